"""A/B of the batch prefetcher: the engine benchmark with it forced off or on."""

import runpy
import sys

from annotator.ml import train

mode = sys.argv.pop(1)
real = train._optimise


def optimise(*args):
    return real(*args[:-1], mode == "on")


train._optimise = optimise
sys.argv[0] = "benchmarks/engine.py"
runpy.run_path("benchmarks/engine.py", run_name="__main__")
