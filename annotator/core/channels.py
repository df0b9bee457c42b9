"""The channel choice: which of a picture's channels are shown and trained on. No Qt.

A project may choose up to :data:`MAX_CHOSEN` channels of its pictures, in order
(docs/adr/0030): ``(3, 2, 1)`` shows bands 4, 3, 2 as red, green and blue (false colour);
``(4,)`` shows channel 5 alone, grey; two are shown magenta and green, as any two-channel
picture. A choice of more than three (a wide choice: BraTS' four sequences, Sentinel-2's
bands) shows its first three (:func:`shown`) and models trained from scratch take every
channel of it (``ml.data.choose_in_channels``). Indices here are 0-based; people count
from 1 (:func:`parse`, :func:`describe`).

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

#: At most this many channels are chosen; the first :data:`SHOWN` of them are shown.
MAX_CHOSEN = 16

#: The channels of a choice that are shown: red, green and blue.
SHOWN = 3


def shown(choice: Sequence[int]) -> Choice:
    """The channels of ``choice`` that are shown: its first three (all of a choice of
    three or fewer)."""
    return tuple(choice)[:SHOWN]


def wide(choice: Sequence[int]) -> bool:
    """Whether ``choice`` names more channels than are shown: a model trained from
    scratch on it takes all of them, one input channel each."""
    return len(choice) > SHOWN


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
    a choice takes a grey or two-channel picture (repeated: today's rule). A wide
    choice (:func:`wide`) lacks any channel it names: its model takes every one."""
    chosen = tuple(choice)
    if not chosen or applies(channels, chosen):
        return False
    return wide(chosen) or chosen != tuple(range(len(chosen)))


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
        raise ValueError(f"name one to {MAX_CHOSEN} channels, e.g. 4,3,2 or 1,2,3,4")
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
