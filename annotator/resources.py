"""Find the files of ``resources/`` (icons, palette, demo recipe, desktop entry).

They live at the top of the source tree (``resources/``, see ADR 0010); the wheel and
the frozen app carry a copy inside the package, as ``annotator/_resources/``. This
module finds whichever is there, installed copy first, so an installed app never reads
a source tree that happens to lie around it.

Standard library only: every layer (``core`` included) may import it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

PACKAGED_NAME = "_resources"  # folder inside the installed package
MARKER = "palette.json"  # a file every resources folder has


class ResourceError(RuntimeError):
    """The resources are missing: a broken install or checkout."""


def _candidates() -> list[tuple[str, Path]]:
    package = Path(__file__).resolve().parent
    return [
        ("installed", package / PACKAGED_NAME),  # the wheel, the frozen app
        ("source", package.parent / "resources"),  # a checkout (editable install, tests)
    ]


@lru_cache(maxsize=1)
def _located() -> tuple[str, Path]:
    for origin, folder in _candidates():
        if (folder / MARKER).is_file():
            return origin, folder
    tried = ", ".join(str(p) for _, p in _candidates())
    raise ResourceError(f"the application's resources are missing (looked in {tried})")


def resources_dir() -> Path:
    """The folder holding the resources."""
    return _located()[1]


def resources_origin() -> str:
    """``"installed"`` (inside the package) or ``"source"`` (the checkout's folder)."""
    return _located()[0]


def resource_path(*parts: str) -> Path:
    """The path of one resource file, e.g. ``resource_path("icons", "brush.svg")``."""
    path = resources_dir().joinpath(*parts)
    if not path.is_file():
        raise ResourceError(f"{path}: resource file is missing")
    return path


def read_json(name: str) -> Any:
    """A JSON resource, parsed; a clear error if it is missing or malformed."""
    path = resource_path(name)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResourceError(f"{path}: cannot be read ({exc})") from None


def icon_names() -> list[str]:
    """Names of the SVG icons (without ``.svg``), sorted."""
    return sorted(p.stem for p in (resources_dir() / "icons").glob("*.svg"))
