"""Argument types shared by the commands: refused by argparse in one line, with the
command's usage, before any work starts."""

from __future__ import annotations

import argparse

#: numpy's and torch's generators take seeds in 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 1


def seed(text: str) -> int:
    """``--seed``: an integer in 0 .. 2**32 - 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{text} is not in 0..{MAX_SEED}")
    return value
