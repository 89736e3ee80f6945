"""lm-eval harness: the task folder (demo held-out and local tasks, `tasks`), and running it on a
model with its results tidied into the metrics contract (`run`). Imports `core`, `models`
(the model identity) and of `evaluate` the inference settings and the metrics contract.
"""
