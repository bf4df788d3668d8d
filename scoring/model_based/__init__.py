"""Model-based scorers (Deita, IFD, thinking probability, fail rate) and their inference backends.

Needs the ``model`` extra (torch, transformers); the vLLM backend also needs vllm on a GPU machine.
"""
