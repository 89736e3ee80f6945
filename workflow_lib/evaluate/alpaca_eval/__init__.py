"""AlpacaEval 1.0 through the alpaca-eval package (tatsu-lab): every run's answers to the
AlpacaEval instructions (generated like the pairwise answers: the run's template,
eval.inference), annotated against the reference outputs (text-davinci-003's in AlpacaEval 1.0)
by one of the package's annotator configs sent to the project's judge, and the package's win
rate, standard error and (when it can fit it) length-controlled win rate.

`reference` reads and checks the reference outputs (and writes the project's small demo set);
`annotate` runs the annotation job from the core environment; `annotator` is the program that
runs in the alpaca-eval environment (.venv-alpaca: the package needs openai>=1.5, the tools
environment pins 0.28.1 for FastChat) and imports only the package and the standard library.
Imports `core`, `evaluate.metrics`, `evaluate.judge` and `evaluate.pairwise`.
"""
