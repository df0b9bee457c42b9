"""The channel choice: which of a picture's channels are shown and trained on. No Qt.

A project may choose up to three channels of its pictures, in order (docs/adr/0030):
``(3, 2, 1)`` shows bands 4, 3, 2 as red, green and blue (false colour); ``(4,)`` shows
channel 5 alone, grey; two are shown magenta and green, as any two-channel picture.
Indices here are 0-based; people count from 1 (:func:`parse`, :func:`describe`).

No choice (``()``) is the rule of before: grey, two channels, or the first three. A
picture that lacks a chosen channel (fewer channels than the choice needs) is taken
as if there were no choice: never an error. :func:`pick` is the one place the display
and the model take the channels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from annotator.core.contrast import channel_count
from annotator.core.nodata import keep_source

#: A choice: 0-based channel indices, at most :data:`MAX_CHOSEN`; ``()`` for none.
Choice = tuple[int, ...]

#: At most this many channels are chosen (red, green and blue).
MAX_CHOSEN = 3


def applies(channels: int, choice: Sequence[int]) -> bool:
    """Whether ``choice`` is used for a picture of ``channels`` channels: a choice is made
    and the picture has every channel it names."""
    return bool(choice) and max(choice) < channels


def lacks(channels: int, choice: Sequence[int]) -> bool:
    """Whether a model version of channel choice ``choice`` can make nothing sound of a
    picture of ``channels`` channels: it lacks a chosen channel, so :func:`pick` gives it
    the first three instead, which are other channels than the version learnt from
    (bands 1-3 where it took 4,3,2). A choice of the leading channels (1; 1,2; 1,2,3)
    lacks nothing: the first three are those very channels, taken as a version without
    a choice takes a grey or two-channel picture (repeated: today's rule)."""
    chosen = tuple(choice)
    if not chosen or applies(channels, chosen):
        return False
    return chosen != tuple(range(len(chosen)))


_SINGULAR = {"get": "gets", "are": "is", "have": "has"}


def lacking_note(names: Sequence[str], choice: Sequence[int], what: str, shown: int = 3) -> str:
    """One line naming the pictures ``names`` that :func:`lacks` a channel of ``choice``
    and what is done about them (``what``, said of many: "get no proposal", "are left
    out of training"), the first ``shown`` of them by name: "2 pictures lack channel 4
    of the Channel Choice 4,3,2 and get no proposal: a.png, b.png". Each lacks at least
    the highest channel chosen."""
    n = len(names)
    if n == 1:
        verb, _, rest = what.partition(" ")
        what = f"{_SINGULAR.get(verb, verb)} {rest}".rstrip()
    listed = ", ".join(names[:shown]) + (f" and {n - shown} more" if n > shown else "")
    return (
        f"{n} picture{' lacks' if n == 1 else 's lack'} channel {max(choice) + 1} of the "
        f"Channel Choice {describe(choice)} and {what}: {listed}"
    )


def pick(image: np.ndarray, choice: Sequence[int]) -> np.ndarray:
    """The chosen channels of ``image`` ``(H, W)`` or ``(H, W, C)``, in order: ``(H, W)``
    for one, else ``(H, W, len(choice))``. ``image`` itself (not a copy) when there is no
    choice or it lacks a chosen channel (the rule of before is then used)."""
    if image.ndim == 2 or not applies(channel_count(image), choice):
        return image
    if len(choice) == 1:
        return keep_source(image, np.ascontiguousarray(image[..., choice[0]]))
    return keep_source(image, np.ascontiguousarray(image[..., list(choice)]))


def picked_channels(channels: int, choice: Sequence[int]) -> int:
    """How many channels :func:`pick` gives of a picture of ``channels`` channels."""
    return len(choice) if applies(channels, choice) else channels


def check(choice: Sequence[int]) -> Choice:
    """``choice`` as a :data:`Choice`; ValueError (one line) for one that is not."""
    chosen = tuple(int(c) for c in choice)
    if len(chosen) > MAX_CHOSEN:
        raise ValueError(f"at most {MAX_CHOSEN} channels can be chosen, not {len(chosen)}")
    if any(c < 0 for c in chosen):
        raise ValueError("channels are counted from 1")
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"a channel is chosen twice in {describe(chosen)}")
    return chosen


def parse(text: str) -> Choice:
    """``"4,3,2"`` (1-based, as people count bands) -> ``(3, 2, 1)``; ValueError (one
    line) for anything else."""
    parts = [p.strip() for p in text.replace(" ", ",").split(",") if p.strip()]
    if not parts:
        raise ValueError("name one to three channels, e.g. 4,3,2")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"channels are numbers counted from 1, e.g. 4,3,2, not {text!r}") from None
    if any(n < 1 for n in numbers):
        raise ValueError(f"channels are counted from 1, not {text!r}")
    return check([n - 1 for n in numbers])


def describe(choice: Sequence[int]) -> str:
    """``(3, 2, 1)`` -> ``"4,3,2"`` (1-based); ``""`` for none."""
    return ",".join(str(c + 1) for c in choice)
