"""Imported once by the server process that forks the heuristic workers: it loads what every worker needs (the
scoring modules and the o200k vocabulary), so the forked workers share it instead of each loading it again."""

from scoring.heuristic import profile_lines, profile_rows
from scoring.tokens import o200k_fast, o200k_token_bytes

o200k_fast()
o200k_token_bytes()

__all__ = ["profile_lines", "profile_rows"]
