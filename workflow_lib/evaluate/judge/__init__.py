"""The OpenAI-compatible judge: an HTTP client with retries, the judgment cache, the judging
loop (unparsable verdicts retried, requests in parallel, the endpoint of a judge config) and the
deterministic stand-in server on loopback. Imports `core`.
"""
