"""Data scorers (heuristic, model-based, LLM-as-judge) that profile datasets."""
