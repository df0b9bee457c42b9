"""What ``--json`` prints on stdout: one JSON value, also when the command fails.

A command prints its value with :func:`print_json`. When it ends with an error before it
printed one (nothing labelled, the project locked, a bad option value, Ctrl+C, SIGTERM, a
bug), :func:`annotator.cli.main` prints one object instead, the human line staying on
stderr: ``{"error": "...", "exit_code": N, "interrupted": false}`` (``error``: that line,
without ``annotator: error:``). ``train --json`` prints its round's object then, with
``status`` ``"failed"`` (or ``"cancelled"``), ``published`` null and ``reason`` saying why.
So a script that parses stdout always gets one value.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_printed = False


def print_json(value: object, *, indent: int | None = 2) -> None:
    """Print the command's one JSON value on stdout."""
    global _printed
    print(json.dumps(value, indent=indent))
    _printed = True


def printed() -> bool:
    """Whether the command printed its JSON value."""
    return _printed


def reset() -> None:
    global _printed
    _printed = False


def asked(argv: Sequence[str]) -> bool:
    """``--json`` is among the options of a command line (not after ``--``)."""
    args = list(argv)
    if "--" in args:
        args = args[: args.index("--")]
    return "--json" in args


@dataclass(frozen=True)
class Failure:
    """How a command with ``--json`` ended without printing its value."""

    error: str  # the line said on stderr, without its "annotator: error: "
    exit_code: int
    interrupted: bool = False  # Ctrl+C, SIGTERM, SIGHUP
    published: int | None = None  # a round stopped after it published this version


#: What a command prints for a :class:`Failure` (``set_defaults(json_failure=...)``).
FailureObject = Callable[[Failure], object]


def failure_object(failure: Failure) -> dict[str, object]:
    """The object a command with ``--json`` prints when it fails (``train``'s: its own)."""
    return {
        "error": failure.error,
        "exit_code": failure.exit_code,
        "interrupted": failure.interrupted,
    }
