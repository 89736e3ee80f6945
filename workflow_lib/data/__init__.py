"""Instruction records and pools: the canonical record, alpaca/sharegpt conversion, Hugging Face
downloads, files pinned by commit and sha256, BPC corpora and the generated demo pool.
Imports only `core`.
"""
