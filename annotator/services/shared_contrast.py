"""One contrast window for every image: the Contrast dialog's "Use for every image",
kept in the project (docs/adr/0036). No Qt.

A window set per image is forgotten when the project closes, and on a CT scan of 100
slices or a 16-bit time series each picture's automatic window differs: the user set it
again on every image, and the picture flickered while paging through. The window for
every image is the user's windows, one per channel shown, that every image of the same
kind is shown with: the same number of channels shown, 8-bit or not alike, CT (Hounsfield
units) or not alike, and the channel choice it was set under. Other images keep their
own: a lung window set on a CT slice never blanks a 16-bit micrograph or MR slice. A display setting only:
the pixels, the fill's tolerance, the smart tools and the model's input never see it
(ADR 0027).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from annotator.core.channels import Choice
from annotator.core.contrast import Window
from annotator.core.errors import ProjectError
from annotator.core.nodata import eight_bit
from annotator.services.document import Document
from annotator.storage.project import Project

log = logging.getLogger(__name__)

#: The project setting that holds the window for every image (JSON; null: none).
SHARED_CONTRAST_SETTING = "gui.contrast_for_every_image"


@dataclass(frozen=True)
class ContrastWindows:
    """The user's contrast ``windows``, one per channel shown, and the kind of picture
    they were set on: that many channels shown, 8-bit or not (``eight_bit``), under the
    channel choice ``channels``. As the window for every image, every image of that
    kind is shown with them."""

    windows: tuple[Window, ...]
    eight_bit: bool
    channels: Choice
    #: Set on a picture that looks like CT (``Document.looks_like_ct``): for those only.
    ct: bool = False

    @classmethod
    def of(cls, doc: Document, windows: Sequence[Window]) -> ContrastWindows:
        """``windows`` for every image of the kind of ``doc``'s picture."""
        return cls(
            tuple((float(lo), float(hi)) for lo, hi in windows),
            eight_bit(doc.shown_image),
            tuple(doc.channel_choice),
            doc.looks_like_ct,
        )

    def fits(self, doc: Document) -> bool:
        """Whether ``doc``'s picture is of this kind (and so shown with these windows)."""
        return (
            doc.shown_channels == len(self.windows)
            and eight_bit(doc.shown_image) == self.eight_bit
            and tuple(doc.channel_choice) == self.channels
            and doc.looks_like_ct == self.ct
        )

    @property
    def kind(self) -> tuple[int, bool, Choice, bool]:
        """The kind of picture the windows are for."""
        return len(self.windows), self.eight_bit, self.channels, self.ct

    def to_json(self) -> dict[str, Any]:
        return {
            "windows": [list(w) for w in self.windows],
            "eight_bit": self.eight_bit,
            "channels": list(self.channels),
            "ct": self.ct,
        }

    @classmethod
    def from_json(cls, raw: Any) -> ContrastWindows:
        """Read :meth:`to_json`'s record; ValueError when it is not one."""
        if not isinstance(raw, dict):
            raise ValueError("not a record")
        windows, channels = raw.get("windows"), raw.get("channels", [])
        if not isinstance(windows, list) or not 1 <= len(windows) <= 3:
            raise ValueError("no windows")
        pairs = []
        for pair in windows:
            if not isinstance(pair, list) or len(pair) != 2:
                raise ValueError("a window is not two values")
            lo, hi = (float(v) for v in pair)
            if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
                raise ValueError("a window whose white is not above its black")
            pairs.append((lo, hi))
        if not isinstance(channels, list) or not all(isinstance(c, int) for c in channels):
            raise ValueError("the channels are not channel numbers")
        return cls(
            tuple(pairs), bool(raw.get("eight_bit", False)), tuple(channels), bool(raw.get("ct"))
        )


def shared_windows(project: Project) -> ContrastWindows | None:
    """The window for every image kept in ``project`` (None: none, or a damaged setting,
    logged: only a display setting, never worth refusing the project for; or one set
    under another channel choice than the project's: it fits no image)."""
    try:
        raw = project.get_setting(SHARED_CONTRAST_SETTING)
        shared = None if raw is None else ContrastWindows.from_json(raw)
        if shared is not None and shared.channels != tuple(project.channel_choice()):
            return None  # (the choice changed since: by `annotator channels`, or another copy)
        return shared
    except (ProjectError, ValueError, TypeError, ArithmeticError) as exc:
        log.warning("ignoring the damaged contrast window for every image: %s", exc)
        return None


def keep_shared_windows(
    project: Project, shared: ContrastWindows | None, *, timeout: float | None = None
) -> None:
    """Keep ``shared`` in ``project`` as the window for every image (None: none);
    ``timeout``: how long to wait for another program's write lock."""
    project.set_setting(
        SHARED_CONTRAST_SETTING, None if shared is None else shared.to_json(), timeout=timeout
    )
