"""The labelling-effort benchmark (`annotator bench`): a simulated annotator labels a
dataset by hand and with the model's help, through the same session, label map and
training services as the app, and the benchmark counts its actions.

A layer above ``services``: the app never imports it; only the CLI's ``bench`` command
and the benchmarks do.
"""
