"""Service mode: ``oda serve`` (the HTTP API, the review UI, metrics) and ``oda worker`` (tracing workers).

Two deployments share the same code:

- **embedded** (the default): one ``oda serve`` process holds the embedded graph store, keeps its run book and
  queue in SQLite, checkpoints with LangGraph's SQLite saver and runs its workers in-process;
- **scale-out**: ``--queue postgresql://…`` keeps the run book in Postgres, queues one procrastinate job per queue
  entry, checkpoints with LangGraph's Postgres saver, and writes the graph to Neo4j over Bolt, so any number of
  ``oda worker`` processes on any machines drain the queue.
"""
