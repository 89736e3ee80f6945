"""Fine-tuning through Axolotl: rendering its config, launching it (one process, or several
through torchrun/accelerate, `distributed`) as a subprocess of the tools interpreter with
resumable checkpoints, and the IterIT run. Imports `core`, `config.batch`, `data`, `models` and
`select`.
"""
