"""The OpenAI-compatible judge: an HTTP client with retries, the judgment cache, the judging
loop (unparsable verdicts retried, requests in parallel, the endpoint of a judge config) and the
deterministic stand-in server on loopback. Imports `core`.
"""

# Judge settings that change how calls are made, not what they return: a judging job reads them
# from the config (a change reruns nothing); the others shape the judgments (rule parameters).
TRANSPORT_KEYS = ("parallel", "timeout_s", "max_retries", "retry_wait_s")
