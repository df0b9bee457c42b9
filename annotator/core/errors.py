"""Exceptions that carry a message meant for the user.

Every front end (CLI, GUI) shows ``str(error)`` of an :class:`AnnotatorError` as one
clear line; anything else is a bug and is logged with its traceback.
"""

import json


class AnnotatorError(Exception):
    """Base class of errors whose message is written for the user."""


class ProjectError(AnnotatorError):
    """The project folder or its database is missing, invalid or too new."""


class ImageReadError(AnnotatorError):
    """An image file cannot be read: corrupt, truncated, empty, unsupported or too large."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class SchemaError(AnnotatorError):
    """A label schema is invalid (duplicate names, bad colour, too many classes...)."""


class WriteRefused(ProjectError):
    """The project database refused a write for a reason the user can fix (``why``: a
    full disk, another program holding it locked, a read-only file), in plain words."""

    def __init__(self, path: object, why: str) -> None:
        super().__init__(f"{path}: {why}; this change was not saved")
        self.path, self.why = path, why


class RecordRefused(ProjectError):
    """A save wrote the mask file of image ``name`` but the database refused its record
    (``why``, without advice): the labels are on disk, only not counted yet. Each save leaves a marker
    until its record is written, so the next writer to open the project counts them (an
    Interrupted Save, ADR 0002); a later save that works records them too."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(
            f"the labels of {name} are written to its mask file, but the project index "
            f"could not record them: {why}; they will be counted when the project is next "
            "opened"
        )
        self.name, self.why = name, why


class FormatError(AnnotatorError):
    """An import or export file is malformed or unsafe."""


class ModelError(AnnotatorError):
    """A model checkpoint is missing, invalid, or does not fit the project."""


class NothingLabelled(ModelError):
    """A round asked for with no labels to train on: expected before the first strokes,
    so the app says it as a hint, not as a failure."""


class Cancelled(AnnotatorError):
    """A long operation was cancelled by the user."""


class SaidElsewhere(AnnotatorError):
    """Under ``torchrun``: the group failed, and another of its processes said why (rank
    0, or the one a failure of its own stopped); this one ends quietly, exit 1, or 130
    when the group was ``interrupted`` (Ctrl+C)."""

    def __init__(self, message: str = "", *, interrupted: bool = False) -> None:
        self.interrupted = interrupted
        super().__init__(message)


class FailedOnMainRank(SaidElsewhere):
    """Under ``torchrun``: rank 0 failed and said why; the other ranks end quietly."""


class InterruptedAfterPublish(KeyboardInterrupt):
    """Ctrl+C reached a training round after it had published model ``version`` (its
    files and its record committed, whole): the interrupt goes on, and says so."""

    def __init__(self, version: int) -> None:
        self.version = version
        super().__init__(f"interrupted after model v{version} was published")


def first_line(exc: BaseException, limit: int | None = None) -> str:
    """An error's message on one line: its first, cut at a word past ``limit`` characters
    (torch's allocator messages run to several hundred); the type's name when it says
    nothing."""
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    line = text.splitlines()[0]
    if limit is None or len(line) <= limit:
        return line
    return line[:limit].rsplit(" ", 1)[0] + " …"


def json_problem(exc: json.JSONDecodeError) -> str:
    """What is wrong with a JSON text, and where: ``Unterminated string starting at line
    1`` (the module's message for it ends in "at" already)."""
    return f"{exc.msg.removesuffix(' at')} at line {exc.lineno}"
