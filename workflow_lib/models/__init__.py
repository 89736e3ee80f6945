"""Model folders: preparing a base model (hub, GGUF package, tiny model), loading one for
scoring or evaluation, and sentence embeddings. Imports `core` and `data`.
"""
