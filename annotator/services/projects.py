"""Opening and creating projects: the front ends' way in, so they never reach into storage."""

from __future__ import annotations

import os
from collections.abc import Sequence

from annotator.core.errors import AnnotatorError
from annotator.core.schema import LabelSchema
from annotator.storage.project import Project


def open_project(root: str | os.PathLike[str]) -> Project:
    """Open an existing project folder (one-line :class:`ProjectError` when it is not one)."""
    return Project.open(root)


def create_project(root: str | os.PathLike[str], class_names: Sequence[str]) -> Project:
    """Create a project folder with these classes (ids ``0 .. n-1`` in this order)."""
    names = [n.strip() for n in class_names]
    if not names or any(not n for n in names):
        raise AnnotatorError(f"empty class name in {', '.join(class_names)!r}")
    return Project.create(root, LabelSchema.from_names(names))
