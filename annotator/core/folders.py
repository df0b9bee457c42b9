"""Walking a folder the user gives: every file below it, linked folders included."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path


def hidden(path: str | os.PathLike[str]) -> bool:
    """Whether a file is hidden (its name begins with '.'): an add and every import
    that walks a folder leave it out (macOS's AppleDouble ``._x.png`` beside ``x.png``,
    an editor's ``.x.png.swp``). A file named directly is read all the same."""
    return Path(path).name.startswith(".")


def hidden_below(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """Whether ``path``, found below ``folder``, is hidden or inside a hidden folder
    below it (``.thumbs/t0.png``, ``.git/...``): an add walking ``folder`` leaves it
    out, as a hidden file (a hidden folder named itself is walked)."""
    return any(part.startswith(".") for part in Path(path).relative_to(folder).parts)


def files_below(
    folder: str | os.PathLike[str],
    skip_dir: Callable[[Path], bool] | None = None,
) -> Iterator[Path]:
    """Every file below ``folder``, reached through symbolic links to folders and files
    too (a dataset assembled from links is the user's folder as much as a copied one).

    Each folder is entered once by its real path, so a link to an ancestor or a second
    link to one folder does not walk it again (nor forever), and each file is yielded
    once, at the first path that reaches it (a link to a file also found in a folder
    walked counts once). Names are visited in sorted order, so which path reaches a
    file first does not change from run to run. ``skip_dir(real_path)`` leaves a folder out. Paths are yielded
    as reached (``folder / ...``), unresolved.
    """
    root = Path(folder)
    seen_dirs = {os.path.realpath(root)}
    seen_files: set[str] = set()
    for dirpath, dirs, files in os.walk(root, followlinks=True):
        real_dir = os.path.realpath(dirpath)
        kept = []
        for name in sorted(dirs):
            real = os.path.realpath(os.path.join(dirpath, name))
            if real in seen_dirs or (skip_dir is not None and skip_dir(Path(real))):
                continue
            seen_dirs.add(real)
            kept.append(name)
        dirs[:] = kept
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            # a plain file's real path is its real folder's; only a link needs resolving
            real = os.path.realpath(path) if os.path.islink(path) else os.path.join(real_dir, name)
            if real in seen_files:
                continue
            seen_files.add(real)
            yield Path(path)


def holds_cwd(folder: Path) -> bool:
    """Whether the current folder is ``folder`` or lies in it (a folder replaced by a
    rename would leave this process, and the shell it came from, in a deleted one)."""
    try:
        here, there = Path.cwd().resolve(), folder.resolve()
    except OSError:
        return False
    return here == there or there in here.parents


#: Why an add leaves out a file whose path holds bytes that are not UTF-8 (a Latin-1
#: name from an old archive or share): the project records paths as text.
NOT_UTF8 = (
    "its path is not UTF-8 text (a name from an old archive or share?): rename it "
    "(`convmv -f latin1 -t utf-8 -r --notest FOLDER` renames a folder's)"
)


def not_utf8(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` holds bytes that are not UTF-8 (Python reads them as surrogate
    escapes, which no text file or database takes)."""
    try:
        os.fspath(path).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def printable(text: str | os.PathLike[str]) -> str:
    """A path, or text naming one, as text that prints and shows in the window: bytes
    of a name that are not UTF-8 (read as surrogate escapes) as ``\\xe9``."""
    return os.fsencode(text).decode("utf-8", "backslashreplace")
