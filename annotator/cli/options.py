"""Argument types shared by the commands: refused by argparse in one line, with the
command's usage, before any work starts; and the words of the commands the CLI suggests."""

from __future__ import annotations

import argparse
import os
import shlex
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


# Commands the CLI suggests (`annotator remove P NAME`...), to be copied as they are: each
# word quoted for a POSIX shell, and none that argparse would take for an option.


def path_word(path: str | os.PathLike[str]) -> str:
    """A file or project path in a suggested command: ``./-x.png`` for ``-x.png`` (the
    same file, not read as an option), quoted when it needs to be (spaces...)."""
    text = os.fspath(path)
    return shlex.quote(f".{os.sep}{text}" if text.startswith("-") else text)


def name_words(names: Sequence[str]) -> str:
    """Image names last in a suggested command, quoted, after ``--`` when one starts
    with '-' (a name is not a path: ``./-x.png`` would name no image)."""
    words = [shlex.quote(n) for n in names]
    return " ".join(["--", *words] if any(n.startswith("-") for n in names) else words)
