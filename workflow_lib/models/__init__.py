"""Model folders: preparing a base model (hub, GGUF package, tiny model), loading one for
scoring or evaluation (`loading`), its identity in manifests (`identity`), and sentence
embeddings. Imports `core` and `data`.
"""
