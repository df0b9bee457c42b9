"""The names near one that names nothing: a typo's "did you mean" (images, classes,
architectures)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

#: How alike a name must be to be offered (difflib's ratio): a letter or two off.
CUTOFF = 0.8


def near_names(given: str, names: Iterable[str], n: int = 3) -> list[str]:
    """Up to ``n`` of ``names`` near ``given``: those equal to it but for the letter case
    first (then only they), else the closest (a typo), best first."""
    names = list(dict.fromkeys(names))
    low = given.lower()
    same = [name for name in names if name.lower() == low]
    if same:
        return same[:n]
    return difflib.get_close_matches(given, names, n=n, cutoff=CUTOFF)


def did_you_mean_text(near: Sequence[str]) -> str:
    """``; did you mean 'x'?`` (or ``one of 'x', 'y'?``) for names found near a typo;
    "" for none."""
    if not near:
        return ""
    if len(near) == 1:
        return f"; did you mean {near[0]!r}?"
    return "; did you mean one of " + ", ".join(repr(n) for n in near[:3]) + "?"


def did_you_mean(given: str, names: Iterable[str]) -> str:
    """:func:`did_you_mean_text` of :func:`near_names`."""
    return did_you_mean_text(near_names(given, names))
