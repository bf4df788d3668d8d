"""Data scorers (heuristic, model-based, LLM-as-judge) that profile datasets (paper §2.4, Appendix C).

Entry points:

- ``scoring.inputs.iter_samples(path_or_hub_id)``: stream normalized ``scoring.samples.Sample`` items (or
  per-record ``SampleError``) from JSONL, JSON, Parquet, folders or Hub datasets;
- ``scoring.base``: the ``Scorer`` contract and ``register``; ``scoring.registry``: ``registry`` and ``select``;
- ``scoring.runner.run_scoring(source, scorers, out_dir=...)``: a resumable run that writes per-sample JSONL and
  returns the dataset's ``ScoreProfile`` list;
- ``oda score`` (``scoring.cli``).

Importing this package is cheap: numpy, tiktoken, openai and torch load only in the modules that use them.
"""
