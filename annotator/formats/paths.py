"""Safe file names: names read from interchange files never leave their folder.

A JSON file may name ``../../etc/passwd``, ``/abs/path`` or ``C:\\x``, or a name may
resolve through a symbolic link to somewhere else. :func:`safe_join` refuses all of
these with a :class:`FormatError`, so readers and writers can join names from files
without further thought.
"""

from __future__ import annotations

import os
import posixpath
import re
import unicodedata
from pathlib import Path, PurePosixPath, PureWindowsPath

from annotator.core.errors import FormatError
from annotator.core.naming import file_key

_DRIVE = re.compile(r"^[A-Za-z]:")


def safe_join(root: str | os.PathLike[str], name: str, *, what: str = "file name") -> Path:
    """``root / name``, refusing names that are absolute, contain ``..``, or resolve
    (through symbolic links) outside ``root``."""
    if not isinstance(name, str) or not name.strip():
        raise FormatError(f"{what} {name!r} is empty or not a string")
    if "\x00" in name:
        raise FormatError(f"{what} {name!r} contains a NUL character")
    text = name.replace("\\", "/")
    if text.startswith("/") or _DRIVE.match(text) or PureWindowsPath(name).is_absolute():
        raise FormatError(f"{what} {name!r} is an absolute path; only relative names are allowed")
    parts = PurePosixPath(text).parts
    if any(p == ".." for p in parts):
        raise FormatError(f"{what} {name!r} points outside its folder ('..')")
    if any(len(p.encode("utf-8", "surrogateescape")) > 255 for p in parts):
        raise FormatError(f"{what} {name[:60]!r}...: a name in it is too long")
    base = Path(root)
    joined = base.joinpath(*[p for p in parts if p not in ("", ".")])
    try:
        real_root = base.resolve()
        real = joined.resolve()
    except (OSError, RuntimeError) as exc:  # too long, a symlink loop...
        raise FormatError(
            f"{what} {name[:60]!r}: cannot be used ({exc.__class__.__name__})"
        ) from None
    if real != real_root and real_root not in real.parents:
        raise FormatError(f"{what} {name!r} resolves outside {base} (symbolic link?)")
    return joined


def join_within(
    root: str | os.PathLike[str],
    folder: str | os.PathLike[str],
    name: str,
    *,
    what: str = "file name",
) -> Path:
    """``folder / name`` for a ``folder`` inside ``root``: :func:`safe_join`, except that
    ``..`` may climb out of ``folder`` while the name stays inside ``root`` (labelme run
    with ``--output annotations/`` writes ``../images/x.jpg``)."""
    text = name.replace("\\", "/") if isinstance(name, str) else ""
    if ".." not in PurePosixPath(text).parts or text.startswith("/") or _DRIVE.match(text):
        return safe_join(folder, name, what=what)
    inner = Path(folder).relative_to(root).as_posix()
    joined = posixpath.normpath(posixpath.join(inner, text))
    if joined == ".." or joined.startswith("../"):
        raise FormatError(f"{what} {name!r} points outside the imported folder {root}")
    return safe_join(root, joined, what=what)


def safe_stem(name: str, composed: bool = True) -> str:
    """A file stem usable as a single path component (no folders, no odd characters).
    ``composed``: a letter and its accent written apart, as macOS names files, made one
    letter first (else the accent became ``_``: ``cafe_``, as exports before 2026-12-03
    named them)."""
    stem = PurePosixPath(name.replace("\\", "/")).stem
    if composed:
        stem = unicodedata.normalize("NFC", stem)
    stem = re.sub(r"[^\w.\-~+]", "_", stem).strip(".") or "image"
    return stem


def links_leaving(src: str | os.PathLike[str], limit: int = 5) -> list[tuple[Path, Path]]:
    """Symbolic links inside an import source that lead outside it: ``(link, target)``.

    A downloaded dataset (a tar keeps links) could otherwise make an import read any file
    the user can read. A folder is searched recursively without following links; for a
    single file, the file and its siblings are checked (readers look next to it). Stops
    after ``limit`` hits.
    """
    src = Path(src)
    root = (src if src.is_dir() else src.parent).resolve()
    found: list[tuple[Path, Path]] = []

    def check(entry: Path) -> None:
        if entry.is_symlink():
            real = entry.resolve()
            if real != root and root not in real.parents:
                found.append((entry, real))

    if src.is_dir():
        check(src)
        for dirpath, dirs, files in os.walk(src):
            for name in dirs + files:
                check(Path(dirpath) / name)
                if len(found) >= limit:
                    return found
    else:
        for entry in src.parent.iterdir():
            check(entry)
            if len(found) >= limit:
                break
    return found


class Namesakes:
    """Whether a picture found in other letters' case belongs to another annotation: one
    beside the annotation looking for it, of its kind (its suffix), whose stem (or stem
    less a mask ending) is the picture's stem as spelled (``labels/a.png`` for
    ``images/a.png``, where ``labels/A.png`` looked for ``A``). Then the picture is that
    one's: ``A``'s labels landed on it and its own were refused. Each folder is listed
    once."""

    def __init__(self) -> None:
        self._stems: dict[tuple[Path, str], set[str]] = {}

    def claim(self, where: Path, picture: Path) -> bool:
        """Whether another annotation beside ``where`` is named as ``picture`` exactly
        (by its stem, or its stem less a mask ending: ``a_mask.png`` names ``a.png``)."""
        key = (where.parent, where.suffix.lower())
        stems = self._stems.get(key)
        if stems is None:
            try:
                names = os.listdir(where.parent)
            except OSError:
                names = []
            stems = {n for f in names if Path(f).suffix.lower() == key[1] for n in _names(f)}
            self._stems[key] = stems
        return picture.stem not in _names(where.name) and picture.stem in stems


def _names(file_name: str) -> tuple[str, ...]:
    """The stems a label file names its picture by, as spelled (``core.naming``)."""
    from annotator.core.naming import mask_stems

    return mask_stems(Path(file_name).stem)


class AnyCase:
    """Finds the file a relative name from an annotation means, in any letters' case
    where the name as spelled names none (``pic0.jpg`` for the file ``pic0.JPG``, a
    dataset made on Windows or macOS; ``café.png`` for the file named with a decomposed
    ``é``, :func:`~annotator.core.naming.file_key`): each part of the name that names no entry is the
    one entry of its folder spelled so in other letters' case, else nothing is found.
    Names are checked as :func:`safe_join` checks them; each folder is listed once."""

    def __init__(self) -> None:
        self._entries: dict[Path, dict[str, list[str]]] = {}
        self._annotations = Namesakes()

    def _named(self, folder: Path, part: str) -> list[str]:
        entries = self._entries.get(folder)
        if entries is None:
            entries = {}
            try:
                for name in sorted(os.listdir(folder)):
                    entries.setdefault(file_key(name), []).append(name)
            except OSError:
                pass
            self._entries[folder] = entries
        return entries.get(file_key(part), [])

    def file(
        self, folder: str | os.PathLike[str], name: str, *, what: str, where: Path | None = None
    ) -> Path | None:
        """The file ``folder / name`` (:func:`safe_join`), found in any case; or None.
        ``where``: the annotation file naming it; a file found in other letters' case
        that another annotation beside it names exactly is that one's (:class:`Namesakes`)."""
        path = safe_join(folder, name, what=what)
        if path.is_file():
            return path
        found = self._in_any_case(Path(folder), name, what)
        if found is not None and where is not None and self._annotations.claim(where, found):
            return None
        return found

    def _in_any_case(self, folder: Path, name: str, what: str) -> Path | None:
        here, spelled = Path(folder), []
        for part in PurePosixPath(name.replace("\\", "/")).parts:
            if part in ("", "."):
                continue
            if not (here / part).exists():
                matches = self._named(here, part)
                if len(matches) != 1:
                    return None
                part = matches[0]
            here = here / part
            spelled.append(part)
        if not spelled or not here.is_file():
            return None
        return safe_join(folder, "/".join(spelled), what=what)
