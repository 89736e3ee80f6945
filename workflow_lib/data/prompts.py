"""The Alpaca prompt templates (Stanford Alpaca's, used by Cherry LLM's IFD scoring and by the
Superfiltering/Cherry pairwise evaluation): an instruction alone, or with an input."""

ALPACA_NO_INPUT = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Response:"
)
ALPACA_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further "
    "context. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:"
)
