"""Argument types shared by the commands: refused by argparse in one line, with the
command's usage, before any work starts."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import NoReturn

#: What the last parser to refuse the command line said (for ``--json``'s object).
refusal: str | None = None


class Parser(argparse.ArgumentParser):
    """A parser that remembers what it refused, for the object ``--json`` prints then."""

    def error(self, message: str) -> NoReturn:
        global refusal
        refusal = message
        super().error(message)


class CommandParser(Parser):
    """The parser of one sub-command (``annotator train``...): an argument it does not
    know (``--stepz 3``) is refused with this command's usage, exit code 2.

    argparse hands a sub-command's unknown arguments back to the top-level parser, which
    refused them with its own usage (``annotator [-h] ... COMMAND ...``), leaving out the
    options the user was looking for."""

    def parse_known_args(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        namespace: argparse.Namespace | None = None,
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}{self._near(extras)}")
        return parsed, extras

    def _near(self, extras: Sequence[str]) -> str:
        """`` (did you mean --steps?)`` for the first unknown option near a known one."""
        import difflib

        known = list(self._option_string_actions)
        for extra in extras:
            if extra.startswith("--"):
                near = difflib.get_close_matches(extra.partition("=")[0], known, n=1)
                if near:
                    return f" (did you mean {near[0]}?)"
        return ""


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


def wait_seconds(text: str) -> float:
    """``--wait``: seconds, 0 or more (0: refuse at once)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value < math.inf:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text} is not a number of seconds, 0 or more")
    return value
