"""Instruction records and pools: the canonical record, alpaca/sharegpt conversion, Hugging Face
downloads, BPC corpora and the generated demo pool. Imports only `core`.
"""
