"""The project's channel choice (docs/adr/0030): what is shown and what new models take.

The choice itself lives in the project (``Project.channel_choice``); ``core.channels``
takes the channels. Here: choosing against the project's pictures, the summary of their
channel counts, and what a model version whose choice differs from the project's is
told.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from collections.abc import Sequence

from annotator.core.card import ModelCard
from annotator.core.channels import Choice, applies, check, describe, wide
from annotator.core.errors import AnnotatorError, ProjectError
from annotator.services.shared_contrast import keep_shared_windows
from annotator.storage.project import Project

log = logging.getLogger(__name__)


def channel_counts(project: Project) -> Counter[int]:
    """How many pictures of the project have each channel count."""
    return Counter(r.channels for r in project.images())


def counts_text(counts: Counter[int]) -> str:
    """``"3 pictures of 5 channels, 1 of 3"`` ("no pictures" when none)."""
    if not counts:
        return "no pictures"
    parts = []
    for i, (channels, n) in enumerate(sorted(counts.items(), reverse=True)):
        what = f" picture{'' if n == 1 else 's'}" if i == 0 else ""
        parts.append(f"{n}{what} of {channels} channel{'' if channels == 1 else 's'}")
    return ", ".join(parts)


def choose(project: Project, choice: Sequence[int], timeout: float | None = None) -> Choice:
    """Store ``choice`` (0-based; ``()`` resets to the first three) after checking it
    against the project's pictures: a channel no picture has is refused in one line.
    The contrast window for every image, of the channels shown before, is dropped (a
    failure only logged; ``timeout``: how long to wait for another program's lock)."""
    chosen = check(choice)
    counts = channel_counts(project)
    most = max(counts, default=0)
    if chosen and max(chosen) >= most:
        have = f"its pictures have at most {most}" if counts else "it has no pictures yet"
        raise ProjectError(
            f"no picture of the project has channel {max(chosen) + 1} ({have}); "
            "choose channels from 1 to the count its pictures have"
        )
    project.set_channel_choice(chosen)
    # The window for every image was of the channels shown before (as the windows set
    # per image are, which the document drops). Not dropped, it no longer fits (it names
    # the channels it was set under), and a reset brought it back.
    try:
        keep_shared_windows(project, None, timeout=timeout)
    except (AnnotatorError, OSError, sqlite3.Error) as exc:
        log.warning("could not drop the contrast window for every image: %s", exc)
    return chosen


def left_as_before(counts: Counter[int], choice: Sequence[int]) -> int:
    """How many pictures (``counts``: :func:`channel_counts`) lack a chosen channel (shown
    as if there were no choice; what models do with them: :func:`lacking_fate`)."""
    if not choice:
        return 0
    return sum(n for channels, n in counts.items() if not applies(channels, choice))


def lacking_fate(choice: Sequence[int]) -> str:
    """What a model of ``choice`` does with a picture lacking one of its channels, after
    "shown as if there were no choice": nothing more to say of a choice of the leading
    channels of three or fewer (the first three are those,
    :func:`annotator.core.channels.lacks`)."""
    if tuple(choice) == tuple(range(len(choice))) and not wide(choice):  # (as no choice)
        return " (and so taken by models)"
    return "; models of this choice give them no proposal and leave them out of training"


def choice_text(choice: Sequence[int]) -> str:
    """``"channels 4,3,2"``; ``"the first three channels"`` for none."""
    return (
        f"channel{'s' if len(choice) > 1 else ''} {describe(choice)}"
        if choice
        else ("the first three channels")
    )


def channels_note(card: ModelCard, project_choice: Sequence[int]) -> str:
    """What is said of a version whose channels are not the project's choice ("" when
    they are the same)."""
    mine = card.channel_choice
    if mine == tuple(project_choice):
        return ""
    return (
        f"takes {choice_text(mine)}, the project shows {choice_text(project_choice)}: "
        "train from scratch to use them"
    )
