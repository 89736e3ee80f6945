"""Fine-tuning through Axolotl: rendering its config, running it as a subprocess of the tools
interpreter with resumable checkpoints, and the IterIT run. Imports `core`, `data`, `models`
and `select`.
"""
