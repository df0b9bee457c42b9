"""Which interchange format a source looks like: the hint of an import given another
``--format`` (``annotator import P DIR --format masks`` of a VOC folder said only that
it found no masks).

A look at names and small files, made only when a reader found nothing of its own format
to read: a folder holding ``SegmentationClass/`` is VOC, a YAML naming classes is YOLO's
``data.yaml``, a JSON file is COCO, labelme or Label Studio by its keys (and a folder
with labelme's ``labels.txt`` and labelme files in its subfolders is labelme's), a folder
the masks import reads masks from, if they hold a mask's few values, is a masks dataset
(a folder of photos is none). When the folder itself is none of them, or holds masks only
in folders below it, its subfolders are looked at (``labelme-examples/instance`` holds
``coco/`` and ``data_annotated/``; ``VOCdevkit/`` holds ``VOC2012/``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from annotator.core.errors import FormatError
from annotator.core.folders import hidden
from annotator.core.masks_layout import MASKS_FORMAT
from annotator.core.status import KEPT_IMAGES_FORMAT, PREDICTED_IMAGES_FORMAT
from annotator.formats.base import FORMAT_HOW

#: What the hint calls a source of each format.
DESCRIPTIONS = {
    "voc": "a VOC dataset",
    "yolo": "a YOLO dataset",
    "coco": "COCO",
    "labelme": "labelme files",
    "labelstudio": "a Label Studio export",
    "masks": "a masks dataset",
}
YAML_SUFFIXES = (".yaml", ".yml")
#: The ``format`` of the JSON files of a masks dataset: its ``dataset.json``, and the
#: ``images.json`` of Kept Labels and of ``predict --out``.
MASKS_JSON_FORMATS = (
    MASKS_FORMAT,
    KEPT_IMAGES_FORMAT,
    PREDICTED_IMAGES_FORMAT,
)
_PARSED_JSON = 8 * 1024 * 1024  # larger JSON files are judged by their beginning
_HEAD = 1024 * 1024
_JSON_FILES = 5  # JSON files looked at in a folder
_SUBFOLDERS = 50  # subfolders looked at
_HINTS = 5  # subfolders named at most (a Roboflow download's train/ valid/ test/ all)
_PEEKED = 3  # mask files whose values are looked at
#: A picture of at most this many distinct values may be a mask (as the add judges).
_MASK_VALUES = 64
#: The folders of a VOC root that hold its class masks: VOC's own, and the augmented
#: set's (SBD's masks as DeepLab ships them, ``SegmentationClassAug/``).
VOC_CLASS_FOLDERS = ("SegmentationClass", "SegmentationClassAug")


def json_kind(data: Any) -> str | None:
    """The format of a parsed JSON document: ``coco`` (``images`` and ``annotations``),
    ``labelme`` (``shapes``), ``labelstudio`` (tasks or JSON-MIN records), ``masks`` (a
    masks dataset's ``dataset.json`` or ``images.json``), else None."""
    from annotator.formats.labelstudio import is_min_record, is_task

    if isinstance(data, dict):
        if data.get("format") in MASKS_JSON_FORMATS:
            return "masks"
        if {"images", "annotations"} <= data.keys():
            return "coco"
        if "shapes" in data:
            return "labelme"
        return "labelstudio" if is_task(data) else None
    if isinstance(data, list) and data and (is_task(data[0]) or is_min_record(data[0])):
        return "labelstudio"
    return None


def json_file_kind(path: Path) -> str | None:
    """The format of a JSON file (:func:`json_kind`), judged by its beginning when it is
    large; None when it is of none, or cannot be read."""
    from annotator.formats.base import load_json

    try:
        size = path.stat().st_size
        if size <= _PARSED_JSON:
            return json_kind(load_json(path))
        with open(path, "rb") as fh:  # a large COCO file: its keys come first
            head = fh.read(_HEAD).decode("utf-8", "replace")
    except (OSError, FormatError):
        return None
    if head.lstrip().startswith("{"):
        if '"shapes"' in head:
            return "labelme"
        if '"images"' in head or '"categories"' in head:
            return "coco"
    return None


def yaml_names_classes(path: Path) -> bool:
    """Whether ``path`` is a YAML file with ``names`` (a YOLO ``data.yaml``)."""
    import yaml

    try:
        if path.stat().st_size > _HEAD:
            return False
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(doc, dict) and "names" in doc


def _folder_kinds(folder: Path) -> list[str]:
    """The formats ``folder`` is a source of, the likeliest first."""
    from annotator.formats.masks import mask_files

    kinds = []
    try:
        children = sorted(folder.iterdir())
        # (as the VOC import reads it: the root, or its SegmentationClass/ itself)
        if folder.name in VOC_CLASS_FOLDERS or any(
            (folder / name).is_dir() for name in VOC_CLASS_FOLDERS
        ):
            kinds.append("voc")
        files = [p for p in children if not hidden(p) and p.is_file()]
        if any(p.suffix.lower() in YAML_SUFFIXES and yaml_names_classes(p) for p in files):
            kinds.append("yolo")
        jsons = [p for p in files if p.suffix.lower() == ".json"][:_JSON_FILES]
        kinds += [k for k in map(json_file_kind, jsons) if k is not None]
        if not jsons and (folder / "labels.txt").is_file():  # labelme's, its files below
            below = sorted(folder.glob("*/*.json"))[:_JSON_FILES]
            kinds += ["labelme"] if "labelme" in map(json_file_kind, below) else []
        # (VOC's masks are masks too; a folder of photos, CVAT's images/, is none)
        if "voc" not in kinds and _look_like_masks(mask_files(folder)):
            kinds.append("masks")
    except OSError:
        pass
    return list(dict.fromkeys(kinds))


def _look_like_masks(files: list[Path]) -> bool:
    """Whether the files a masks import would read hold masks: one of the first few has
    a mask's few values (class ids, or a colour per class), as no photograph has; one
    that cannot be read here counts as a mask (its import says what is wrong)."""
    for path in files[:_PEEKED]:
        values = _distinct_values(path)
        if values is None or values <= _MASK_VALUES:
            return True
    return False


def _distinct_values(path: Path) -> int | None:
    """How many distinct values (grey levels, or colours) a picture holds, counted on a
    grid of about 256 x 256 of its pixels; None when it is not read here (a NIfTI volume,
    a file PIL cannot open)."""
    import numpy as np
    from PIL import Image

    if path.suffix.lower() not in (".png", ".tif", ".tiff"):
        return None
    try:
        with Image.open(path) as img:
            array = np.asarray(img)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    if array.ndim < 2 or array.size == 0:
        return None
    step = max(1, min(array.shape[0], array.shape[1]) // 256)
    sample = array[::step, ::step]
    if sample.ndim == 3:  # (colours: the rows of their channels)
        sample = sample.reshape(-1, sample.shape[2])
        return int(np.unique(sample, axis=0).shape[0])
    return int(np.unique(sample).size)


def looks_like(src: Path, tried: str) -> list[tuple[str, Path]]:
    """``(format, path)`` to import instead of ``src`` read as ``tried``: the format
    ``src`` looks like, or else those of its first subfolders that look like one (the
    ``tried`` one too: a VOC root's parent). Nothing when ``src`` itself looks like
    ``tried`` (then something else is wrong with it)."""
    src = Path(src)
    if src.is_file():
        kind = None
        if src.suffix.lower() in YAML_SUFFIXES and yaml_names_classes(src):
            kind = "yolo"
        elif src.suffix.lower() == ".json":
            kind = json_file_kind(src)
        return [(kind, src)] if kind is not None and kind != tried else []
    if not src.is_dir():
        return []
    kinds = _folder_kinds(src)
    if kinds and not (kinds == ["masks"] and not _masks_in_itself(src)):
        return [] if tried in kinds else [(kinds[0], src)]
    found: list[tuple[str, Path]] = []
    try:
        subfolders = sorted(p for p in src.iterdir() if p.is_dir() and not hidden(p))
    except OSError:
        return []
    for sub in subfolders[:_SUBFOLDERS]:
        sub_kinds = _folder_kinds(sub)
        if sub_kinds:
            found.append((sub_kinds[0], sub))
        if len(found) > _HINTS:  # (one more: the hint says there are more)
            break
    if kinds:  # masks below it: a subfolder of another format says better what it holds
        # (VOCdevkit/ is VOC2012/'s folder, its masks VOC's; CVAT's ds/ holds COCO)
        better = [(kind, sub) for kind, sub in found if kind != "masks"]
        if better:
            return better
        return [] if tried in kinds else [(kinds[0], src)]
    return found


def _masks_in_itself(folder: Path) -> bool:
    """Whether ``folder`` holds mask files itself, not only in folders below it."""
    from annotator.formats.masks import is_mask_file

    try:
        return any(is_mask_file(p) and not hidden(p) and p.is_file() for p in folder.iterdir())
    except OSError:
        return False


def choose_format(kind: str, how: str = FORMAT_HOW) -> str:
    """How to read a source as ``kind``: the CLI's ``--format voc`` (``how`` is
    :data:`~annotator.formats.base.FORMAT_HOW`), else the front end's field and the
    format's name as people write it (the GUI's ``Format: VOC``)."""
    if how == FORMAT_HOW:
        return f"{how} {kind}"
    from annotator.formats.registry import format_title  # (it imports every reader)

    return f"{how}: {format_title(kind)}"


def format_hint(src: Path, tried: str, how: str = FORMAT_HOW) -> str:
    """The end of the error of a ``tried`` import of ``src`` that found nothing to read:
    ``"; it looks like a VOC dataset: import it with --format voc"``, or ``""``; ``how``:
    how the front end chooses a format (:func:`choose_format`)."""
    parts = []
    found = looks_like(src, tried)
    for kind, path in found[:_HINTS]:
        what = DESCRIPTIONS[kind]
        choose = choose_format(kind, how)
        if path == Path(src):
            parts.append(f"it looks like {what}: import it with {choose}")
        else:
            parts.append(f"{path.name}/ holds {what}: import {path} with {choose}")
    if len(found) > _HINTS:
        parts.append("and more of its folders hold datasets")
    return "".join(f"; {p}" for p in parts)


def json_hint(path: Path, data: Any, tried: str, how: str = FORMAT_HOW) -> str:
    """The end of the error on the JSON file ``path`` (parsed: ``data``) that is not of
    the ``tried`` format: ``"; it looks like COCO: import it with --format coco"``, or
    ``""``. A masks dataset's own file names its folder. ``how``: as :func:`format_hint`'s."""
    kind = json_kind(data)
    if kind is None or kind == tried:
        return ""
    choose = choose_format(kind, how)
    if kind == "masks":
        return f"; it is {DESCRIPTIONS[kind]}'s: import {path.parent} with {choose}"
    return f"; it looks like {DESCRIPTIONS[kind]}: import it with {choose}"
