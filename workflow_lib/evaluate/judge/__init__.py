"""The OpenAI-compatible judge: an HTTP client with retries and a cache-friendly call
shape, and the deterministic stand-in server on loopback. Imports `core`.
"""
