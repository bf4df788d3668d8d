"""Local stand-ins for the services the project talks to, served on loopback through the real clients' protocols.

- ``standins.hub``: a Hub-compatible API over a world folder or a recorded snapshot (``oda hub serve``);
  ``standins.world`` is the world folder it serves, ``standins.snapshot_builder`` records a snapshot of one.
- ``standins.pages``: web pages (GitHub READMEs, blogs) on virtual hosts, with faults.
- ``standins.arxiv``: the arXiv Atom API, abstract pages and full texts.
- ``standins.openai_compat``: an OpenAI-compatible chat server with scripted replies;
  ``standins.llm_emulator`` plays a source-extraction model on it, ``standins.hf_chat`` serves a real small model.
- ``standins.faults``: transient failures and latency injected into the Hub stand-in.
- ``standins.synthetic_world``: large synthetic lineages written as world folders.
- ``standins.arcadedb``: an embedded ArcadeDB server that speaks Bolt, standing in for Neo4j.

Tests, benchmarks and the ``oda hub`` commands share them.
"""
