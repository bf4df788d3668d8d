"""The standardized SFT + evaluation pipeline as batch jobs, and the analysis of its results."""
