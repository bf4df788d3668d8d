"""Lineage tracing: the acquisition layer (Hub, web, arXiv, snapshots) and the LangGraph tracing agents."""
