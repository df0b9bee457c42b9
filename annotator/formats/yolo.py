"""YOLO segmentation (ultralytics): normalised polygons, one text file per image.

Written::

    OUT/data.yaml                     train/val/test image folders, names
    OUT/images/<split>/<stem>.<ext>
    OUT/labels/<split>/<stem>.txt     "class x1 y1 x2 y2 ..." per hole-free region piece

``data.yaml`` has no ``path``: ultralytics then resolves the folders against the YAML's
own folder (``path: .`` would be the current directory). Ultralytics needs ``train`` and
``val``; an empty one names another split's images, with a comment saying so.

Coordinates are pixel centres ``(c + 0.5) / width`` so that both ultralytics
(``polygon * size`` truncated to int, then ``cv2.fillPoly``) and our reader land on
pixel ``c`` again. Void and unlabelled pixels are not written. YOLO has no holes, but
ultralytics' overlap masks (``overlap_mask=True``, its default for segmentation) draw
the polygons largest first, a smaller one winning: a hole filled by other regions stays
inside its region's outline and they paint over it; a hole holding void or unlabelled
pixels is cut open (:func:`~annotator.formats.polygons.painted_polygons`). Lines are
written largest first. A class left out (``ExportOptions.leave_out``: ``export
--leave-out``, and the project's background class by default) writes no line, as
unlabelled pixels; class indices stay the project's ids, so ``names`` still lists it.

Read: SRC is the dataset folder (with ``data.yaml`` or ``*.yaml`` naming the classes),
a labels folder, or a split's folder (``train/`` holding ``images/`` and ``labels/``);
or the dataset YAML itself, whose ``train``, ``val`` and ``test`` images are read as
ultralytics reads them (relative to its ``path``, else to its own folder). A folder
without a YAML reads the one above it that is of that folder (``_yaml_names``), never
another dataset's kept beside it; with none there either, its class list
(:data:`CLASS_LISTS`: Label Studio's, labelImg's and CVAT's YOLO 1.1 exports).
A label file's image is where ultralytics looks: its path with the last ``labels``
folder named ``images`` (``labels/train/x.txt``: ``images/train/x.*``;
``train/labels/x.txt``: ``train/images/x.*``), else beside it. Polygons are filled
exactly as ultralytics' ``polygon2mask`` does; where two overlap, the smaller wins, as
in the masks ultralytics trains on (it draws them largest first). A line that cannot be
drawn (odd or too few coordinates, of fewer than 3 points, a box, words that are no
numbers, a class past ``names``, a polygon whose box reaches past -0.01..1.01, where
ultralytics refuses it) is left out and named in the summary, the rest imported
(``formats.left_out``); a source none of whose lines can be drawn is refused. A polygon
within those bounds is drawn clipped to the picture, as ultralytics trains on it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from annotator.core.errors import FormatError
from annotator.core.folders import hidden, hidden_below
from annotator.formats.base import (
    DEFAULT_EXPORT,
    DEFAULT_IMPORT,
    UNLABELLED,
    ExportDataset,
    ExportOptions,
    ImagesBeside,
    ImportItem,
    ImportOptions,
    OutputFolder,
    Progress,
    ReadResult,
    WriteResult,
    chosen_background,
    image_size,
    names_lut,
    ticker,
)
from annotator.formats.detect import YAML_SUFFIXES, format_hint
from annotator.formats.left_out import ObjectsLeftOut
from annotator.formats.polygons import pad_to_three, painted_polygons

DESCRIPTION = "YOLO segmentation: normalised polygons per region, data.yaml"


def mask_to_lines(
    mask: np.ndarray,
    n_classes: int,
    leave_out: Iterable[int] = (),
    tick: Callable[[], None] | None = None,
) -> list[str]:
    """The label file's lines of a label map: the classes ``leave_out`` write none.
    ``tick``: see :func:`painted_polygons`."""
    h, w = mask.shape
    scale = np.array([w, h], np.float64)
    lines = []
    skip = set(leave_out)
    wanted = [k for k in range(n_classes) if k not in skip]
    for class_id, poly in painted_polygons(mask, wanted, tick):
        xy = (pad_to_three(poly).astype(np.float64) + 0.5) / scale
        lines.append(f"{class_id} " + " ".join(f"{v:.6f}" for v in xy.ravel()))
    return lines


def write_yolo(
    out: Path,
    dataset: ExportDataset,
    options: ExportOptions = DEFAULT_EXPORT,
    progress: Progress | None = None,
) -> WriteResult:
    import yaml

    folder = OutputFolder(out)
    n = len(dataset.classes)
    samples = dataset.samples()
    for i, (split, s) in enumerate(samples):
        tick = ticker(progress, i, len(samples), s.stem)
        tick()
        lines = mask_to_lines(s.load_mask(), n, options.leave_out, tick)
        folder.write_text(f"labels/{split}/{s.stem}.txt", "".join(x + "\n" for x in lines))
        folder.place_image(f"images/{split}/{s.image_file_name}", s.image_path, options.image_mode)
    doc, notes = _data_yaml(dataset.splits, {split for split, _ in samples})
    doc["names"] = {c.id: c.name for c in dataset.classes}
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    folder.write_text("data.yaml", "".join(f"# {n}\n" for n in notes) + text)
    summary = []
    if samples and "val" not in {split for split, _ in samples}:
        summary.append(
            "no validation images: data.yaml's 'val' names the training images (YOLO "
            "trainers need one), so validation scores will flatter; give validation a "
            "larger share of the split, or mark more images done"
        )
    return folder.result(summary)


def _data_yaml(splits: Iterable[str], used: set[str]) -> tuple[dict[str, Any], list[str]]:
    """The split keys of ``data.yaml`` and comments on them. No ``path`` key: ultralytics
    reads a missing one as the YAML's folder, but ``path: .`` as the current directory.
    A split with no image names no folder (trainers stop on an empty one), except that
    ultralytics refuses a YAML without ``train`` and ``val``: those name another split's
    images instead, and a comment says so (else a user reads training-set scores as
    validation ones)."""
    doc: dict[str, Any] = {}
    notes = []
    for split in splits:
        if split in used:
            doc[split] = f"images/{split}"
    stand_in = next((s for s in ("train", "val", "test") if s in used), None)
    for split in ("train", "val"):
        if split not in doc and stand_in is not None:
            doc[split] = f"images/{stand_in}"
            notes.append(
                f"{split}: the export put no image in the {split} split, so '{split}' names "
                f"the {stand_in} images (ultralytics needs a '{split}' folder)"
                + ("; its validation scores are on those images" if split == "val" else "")
            )
    order = {"train": 0, "val": 1, "test": 2}
    return dict(sorted(doc.items(), key=lambda kv: order.get(kv[0], 3))), notes


# --- reading ---------------------------------------------------------------------------


def _load_yaml(f: Path) -> Any:
    import yaml

    try:
        return yaml.safe_load(f.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        why = " ".join(str(exc).split())  # YAML errors span lines; the CLI shows one
        raise FormatError(f"{f}: cannot read the dataset YAML ({why})") from None


def _names_in(f: Path, doc: Any) -> list[str] | None:
    """The class names of the dataset YAML ``f`` (parsed: ``doc``), None without
    ``names``; bad ones raise FormatError."""
    if not isinstance(doc, dict) or "names" not in doc:
        return None
    names = doc["names"]
    if isinstance(names, dict):
        try:
            ids = sorted(int(k) for k in names)
        except (TypeError, ValueError):
            raise FormatError(f"{f}: 'names' keys must be class indices") from None
        if ids != list(range(len(ids))):
            raise FormatError(f"{f}: 'names' must number the classes 0..n-1")
        names = [names[k] if k in names else names[str(k)] for k in ids]
    if names is None:  # (`names:` with nothing after it)
        names = []
    if not isinstance(names, list):
        raise FormatError(f"{f}: 'names' must be a list or a mapping of class names")
    if not names:
        raise FormatError(f"{f}: 'names' lists no class")
    for k, n in enumerate(names):
        if n is None or (isinstance(n, str) and not n.strip()):
            raise FormatError(
                f"{f}: 'names' has an empty class name (class {k})"
                + (
                    "; YAML reads null and ~ as no name: put such a name in quotes"
                    if n is None
                    else ""
                )
            )
        if isinstance(n, (list, dict)):
            raise FormatError(f"{f}: 'names' gives class {k} a list or mapping, not a name")
    # (YAML reads `0`, `yes`, `1.5`, a date as numbers, booleans, dates: ultralytics'
    # check_class_names turns them into strings, `True` for `yes`, and so do we)
    cleaned = [str(n).strip() for n in names]
    seen: dict[str, int] = {}
    for k, n in enumerate(cleaned):
        if n.lower() in seen:
            yaml_word = isinstance(names[k], bool) or isinstance(names[seen[n.lower()]], bool)
            raise FormatError(
                f"{f}: 'names' repeats the class name {n!r} (classes {seen[n.lower()]} and {k})"
                + (
                    "; YAML reads yes, no, on and off as True and False: put such names in "
                    "quotes in the file ('no')"
                    if yaml_word
                    else ""
                )
            )
        seen[n.lower()] = k
    return cleaned


#: The class lists of YOLO datasets that have no YAML, looked for in this order in the
#: dataset folder and then its labels folder: Label Studio's and labelImg's
#: ``classes.txt`` (line i names class i), darknet's and CVAT's "YOLO 1.1" ``obj.names``
#: (the same), Label Studio's ``notes.json`` (``categories``, by ``id``).
CLASS_LISTS = ("classes.txt", "obj.names", "notes.json")


def _class_list(src: Path, labels_root: Path) -> tuple[list[str], Path, set[Path]] | None:
    """The class names of a YOLO dataset folder without a YAML, the file they come
    from and the ``.txt`` files that are no label files (the class list itself, and the
    image lists darknet's ``obj.data`` names: ``train.txt``...); ``None`` when it has
    no class list."""
    for folder in dict.fromkeys((src, labels_root)):
        for name in CLASS_LISTS:
            f = folder / name
            if f.is_file() and not hidden(f):
                names = _notes_names(f) if f.suffix == ".json" else _listed_names(f)
                return names, f, {f, *_darknet_lists(src)}
    return None


def _listed_names(f: Path) -> list[str]:
    """The names of a class list file, line i naming class i (blank lines at the end
    left out; one inside is refused: it would shift every class after it)."""
    try:
        lines = f.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"{f}: cannot read the class list ({exc})") from None
    names = [line.strip() for line in lines]
    while names and not names[-1]:
        names.pop()
    if not names or "" in names:
        raise FormatError(
            f"{f}: a class list names one class per line, without blank lines"
            + (f" (line {names.index('') + 1} is blank)" if "" in names else " (it is empty)")
        )
    return names


def _notes_names(f: Path) -> list[str]:
    """Label Studio's ``notes.json``: its ``categories``, whose ids must be 0..n-1."""
    import json

    try:
        categories = json.loads(f.read_text(encoding="utf-8"))["categories"]
        by_id = {int(c["id"]): str(c["name"]) for c in categories}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FormatError(
            f"{f}: not a class list with 'categories' of 'id' and 'name' ({exc})"
        ) from None
    if sorted(by_id) != list(range(len(by_id))) or not by_id:
        raise FormatError(f"{f}: the categories' ids must be 0, 1, 2... (YOLO's class indices)")
    return [by_id[i] for i in range(len(by_id))]


def _darknet_lists(src: Path) -> list[Path]:
    """The image lists darknet's ``obj.data`` names (``train = data/train.txt``), as files
    of ``src`` (CVAT's "YOLO 1.1" export keeps them there)."""
    data = src / "obj.data"
    if not data.is_file():
        return []
    try:
        lines = data.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    values = (line.partition("=")[2].strip() for line in lines if "=" in line)
    return [src / Path(v.replace("\\", "/")).name for v in values if v.endswith(".txt")]


def _yaml_files(folder: Path) -> list[Path]:
    """The YAML files in ``folder`` (a folder named ``x.yaml`` is none)."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() in YAML_SUFFIXES and not hidden(p) and p.is_file()
    )


def _yaml_names(root: Path, dataset: Path) -> tuple[list[str], Path]:
    """The class names of the dataset folder ``dataset`` and the YAML they come from,
    a YAML of ``root`` (``dataset`` itself, or the folder above it). ``data.yaml`` in the
    dataset folder wins; else the one YAML with ``names`` that is of this dataset
    (:func:`_of_dataset`). Ultralytics keeps a dataset's YAML beside its folder
    (``work/birds.yaml`` of ``work/birds/``), so the folder above may hold the YAMLs of
    other datasets: one of those is never taken, and several candidates are refused."""
    if root == dataset and (root / "data.yaml").is_file():
        f = root / "data.yaml"
        names = _names_in(f, _load_yaml(f))
        if names is None:
            raise FormatError(f"{f}: no 'names' of classes in the dataset YAML")
        return names, f
    found = []
    for f in _yaml_files(root):
        doc = _load_yaml(f)
        names = _names_in(f, doc)
        if names is not None:
            found.append((f, doc, names))
    if not found:
        raise FormatError(f"{root}: no dataset YAML with 'names' found")
    if len(found) == 1 and root == dataset:
        return found[0][2], found[0][0]
    for strength in ("this folder", "a folder above it"):
        chosen = [(f, names) for f, doc, names in found if _of_dataset(f, doc, dataset) == strength]
        if len(chosen) == 1:
            return chosen[0][1], chosen[0][0]
        if len(chosen) > 1:
            raise FormatError(
                f"{dataset}: several dataset YAMLs may name its classes ("
                + ", ".join(f.name for f, _ in chosen)
                + f" in {root}); import the dataset's YAML itself instead of the folder"
            )
    others = ", ".join(f.name for f, _, _ in found)
    raise FormatError(
        f"{dataset}: no dataset YAML of this folder (data.yaml, or a YAML whose 'path' is "
        f"it or named {dataset.name}.yaml); {root} holds {others}, of other folders: import "
        "the dataset's YAML itself"
    )


#: The split folders of a YOLO dataset (Roboflow writes ``valid/``).
YOLO_SPLITS = ("train", "val", "valid", "test")


def _split_below(f: Path, here: Path) -> bool:
    """Whether ``here`` is a split folder (:data:`YOLO_SPLITS`) right below the folder of
    ``f``, a ``data.yaml``: the dataset's own YAML, whatever its ``path`` says (a
    download keeps the one written on its maker's machine)."""
    return (
        f.name.lower() in ("data.yaml", "data.yml")
        and here.name.lower() in YOLO_SPLITS
        and f.parent.resolve() == here.parent
    )


def _of_dataset(f: Path, doc: Any, dataset: Path) -> str | None:
    """How the YAML ``f`` (parsed: ``doc``) is of the dataset folder ``dataset``: "this
    folder" when its ``path`` is that folder (read as :func:`_yaml_label_files` reads
    it; one not found here by its last name), it has none and lies in that folder, or
    its stem is the folder's name (ultralytics' ``birds.yaml`` beside ``birds/``); "a
    folder above it" when its dataset folder holds ``dataset`` (a split's folder); else
    None (the YAML of another dataset)."""
    here = dataset.resolve()
    if f.stem.lower() == here.name.lower():
        return "this folder"
    given = doc.get("path") if isinstance(doc, dict) else None
    if isinstance(given, str) and given.strip():
        p = Path(given).expanduser()
        folders = [c for c in dict.fromkeys((p, f.parent / p)) if c.is_dir()]
        if not folders:  # (written on another machine: its folder's name tells)
            name = p.name.lower()
            if name == here.name.lower():
                return "this folder"
            if _split_below(f, here):  # Roboflow's Proj-1/data.yaml of Proj-1/train/
                return "a folder above it"
            return "a folder above it" if name in {a.name.lower() for a in here.parents} else None
    else:
        folders = [f.parent]
    held = [c.resolve() for c in folders]
    if here in held:
        return "this folder"
    return "a folder above it" if any(c in here.parents for c in held) else None


def _labels_of(image_path: Path) -> Path:
    """Where ultralytics reads an image's labels (``img2label_paths``): its path with the
    last ``images`` folder named ``labels``, ending ``.txt``."""
    parts = list(image_path.parts)
    for k in reversed(range(len(parts) - 1)):
        if parts[k] == "images":
            parts[k] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def _yaml_label_files(f: Path, doc: dict[str, Any]) -> tuple[Path, list[Path], list[Path]]:
    """The dataset folder of the data.yaml ``f`` and the label files of the images its
    ``train``, ``val`` and ``test`` name (folders, lists of images in a ``.txt`` file, or
    lists of those), found as ultralytics finds them: relative to ``path`` (absent: the
    YAML's folder; relative: to the current folder, else the YAML's), a missing
    ``../x`` read as ``x``; the labels of an images folder in the same path with its last
    ``images`` folder named ``labels``. Third: the images named (those of the folders, and
    the listed ones that exist), labelled or not."""
    f = f.absolute()  # (paths listed absolute and relative ones are compared below)
    entries: list[str] = []
    for key in ("train", "val", "test"):
        value = doc.get(key)
        entries += [value] if isinstance(value, str) else []
        entries += [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
    if not entries:
        raise FormatError(f"{f}: names no train, val or test images")
    given = doc.get("path")
    root = f.parent
    if isinstance(given, str) and given.strip():
        p = Path(given).expanduser()
        folders = [c.absolute() for c in dict.fromkeys((p, f.parent / p)) if c.is_dir()]
        if not folders:
            raise FormatError(
                f"{f}: its 'path' {given!r} is not a folder (read relative to the current "
                "folder, then to the YAML's); correct it, or import the dataset's folder"
            )
        # (`path: .` is the current folder for ultralytics; run from elsewhere, the
        # YAML's folder, where its entries are)
        holding = [c for c in folders if any((c / e).exists() for e in entries)]
        root = (holding or folders)[0]
    files: list[Path] = []
    images: list[Path] = []
    missing = []
    for entry in dict.fromkeys(entries):
        where = root / entry
        if not where.exists() and entry.startswith("../"):
            where = root / entry[3:]
        if where.is_dir():
            images += _images_in(where)
            labels = _labels_of(where / "x")
            if labels.parent.is_dir():
                files += _label_files(labels.parent)
        elif where.is_file():  # a list of images, one a line ("./x" from the list's folder)
            for line in where.read_text(encoding="utf-8", errors="replace").splitlines():
                line = line.strip()
                if not line:
                    continue
                image = where.parent / line[2:] if line.startswith("./") else root / line
                label = _labels_of(image)
                if image.is_file():
                    images.append(image)
                if label.is_file():
                    files.append(label)
        else:
            missing.append(entry)
    if missing and not files:
        raise FormatError(
            f"{f}: its images are not found ({', '.join(missing)}, under {root}); import "
            "the dataset's folder instead"
        )
    return root, sorted(dict.fromkeys(files)), list(dict.fromkeys(images))


def _image_folders(src: Path) -> list[Path]:
    """The images folders of a dataset folder (``images/`` and the folders below it,
    ``<split>/images/``), which may hold images no label file names."""
    bases = [src, *(d for d in sorted(src.iterdir()) if d.is_dir() and not hidden(d))]
    folders = []
    for base in bases:
        images = base / "images"
        if images.is_dir() and not hidden(images):
            below = (p for p in images.rglob("*") if p.is_dir() and not hidden_below(p, images))
            folders += [images, *sorted(below)]
    return folders


def _images_in(folder: Path) -> list[Path]:
    """The image files in ``folder`` (not below it), by name."""
    from annotator.core.limits import IMAGE_SUFFIXES

    return [
        p
        for p in sorted(folder.iterdir())
        if p.suffix.lower() in IMAGE_SUFFIXES and not hidden(p) and p.is_file()
    ]


def _label_files(labels_root: Path) -> list[Path]:
    """The ``*.txt`` files under ``labels_root``; when some sit in a ``labels`` folder
    (``train/labels/x.txt``, the split-first layout), only those, so that the notes such
    a dataset ships (Roboflow's ``README.dataset.txt``) are not read as labels."""
    found = labels_root.rglob("*.txt")
    files = sorted(p for p in found if not hidden_below(p, labels_root) and p.is_file())
    in_labels = [p for p in files if "labels" in p.relative_to(labels_root).parts[:-1]]
    return in_labels or files


def _find_image(
    label_file: Path, labels_root: Path, root: Path, beside: ImagesBeside
) -> Path | None:
    """The image of ``label_file``. First ultralytics' pairing: an image's labels are at
    its path with the last ``images`` folder named ``labels`` (so ``labels/train/x.txt``
    and ``train/labels/x.txt`` both work); then ``images/`` + the labels' subfolder under
    the dataset root; then beside the label file."""
    try:
        parts = label_file.parent.relative_to(root).parts
        rel = label_file.parent.relative_to(labels_root)
    except ValueError:
        return None
    folders = [
        root.joinpath(*parts[:k], "images", *parts[k + 1 :])
        for k in reversed(range(len(parts)))
        if parts[k] == "labels" and "images" not in parts[k + 1 :]
    ]
    folders += [root / "images" / rel, label_file.parent]
    for folder in dict.fromkeys(folders):
        found = beside.find(folder, label_file.stem, label_file)
        if found is not None:
            return found
    return None


def parse_label_file(
    path: Path,
    width: int,
    height: int,
    n_classes: int,
    left: ObjectsLeftOut | None = None,
    name: str = "",
) -> list[tuple[int, np.ndarray]]:
    """``(class, (N, 2) int32 pixel points)`` per line, converted as ultralytics does
    (float32 ``xy * (width, height)`` truncated towards zero, no clipping: a vertex at
    1.0 lies just past the image and fillPoly clips the edge, not the vertex, as it
    clips a polygon overshooting the picture); a
    malformed line raises FormatError, or with ``left`` is left out and named there (as
    ``line N`` of ``name``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"{path}: cannot read ({exc})") from None
    out = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        where = f"{path}:{lineno}"
        try:
            cls, values = _parse_line(parts, where, n_classes)
        except FormatError as exc:
            if left is None:
                raise
            left.leave_out(name or path.name, f"line {lineno}", exc, where)
            continue
        if left is not None:
            left.drawn += 1
        xy = values.astype(np.float32).reshape(-1, 2) * np.array([width, height], np.float32)
        out.append((cls, xy.astype(np.int32)))
    return out


def _parse_line(parts: list[str], where: str, n_classes: int) -> tuple[int, np.ndarray]:
    """The class and the normalised coordinates of one line's words, checked."""
    try:
        number = float(parts[0])  # ("0.0" too, as ultralytics reads a class)
        values = np.array([float(v) for v in parts[1:]], np.float64)
    except ValueError:
        raise FormatError(f"{where}: expected 'class x1 y1 x2 y2 ...' numbers") from None
    if not number.is_integer():
        raise FormatError(f"{where}: class {parts[0]} is not a whole number")
    cls = int(number)
    if not 0 <= cls < n_classes:
        raise FormatError(f"{where}: class {cls} is not in 0..{n_classes - 1}")
    if values.size == 4:
        raise FormatError(f"{where}: a box line (detection format), not a polygon")
    if not np.all(np.isfinite(values)):
        raise FormatError(f"{where}: a coordinate is not a number ({_first_bad(parts[1:])})")
    if values.size % 2:
        raise FormatError(f"{where}: a polygon needs x y pairs")
    if values.size < 6:  # (ultralytics drops such an image whole)
        raise FormatError(f"{where}: a polygon needs at least 3 points")
    if not _in_picture(values):
        raise FormatError(
            f"{where}: coordinates must be normalised to 0..1 (the polygon's box lies "
            f"outside the picture: {_box_words(values)})"
        )
    return cls, values


#: How far a polygon's box may reach outside 0..1: ultralytics' ``verify_image_label``
#: takes a segment line whose box (centre, width, height) lies within -0.01..1.01.
_BOX_SLACK = np.float32(0.01)


def _box(values: np.ndarray) -> np.ndarray:
    """The box ultralytics checks of a polygon line's normalised coordinates: centre x,
    centre y, width, height, in float32 as its ``segments2boxes`` computes them."""
    xy = values.astype(np.float32).reshape(-1, 2)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    return np.concatenate(((lo + hi) / np.float32(2), hi - lo))


def _in_picture(values: np.ndarray) -> bool:
    """Whether ultralytics trains on the polygon: its box within -0.01..1.01. Its
    vertices may lie further out (converters keep a COCO polygon that overshoots the
    picture, a vertex at -0.02): the part outside the picture is cut off where it is
    drawn (``cv2.fillPoly`` draws only the pixels inside), as ultralytics clips it."""
    box = _box(values)
    return bool(box.min() >= -_BOX_SLACK and box.max() <= 1 + _BOX_SLACK)


def _box_words(values: np.ndarray) -> str:
    """The box of a line refused, in words."""
    cx, cy, w, h = (float(v) for v in _box(values))
    return f"centre {cx:.3g},{cy:.3g}, size {w:.3g}x{h:.3g}; ultralytics allows -0.01..1.01"


def _first_bad(words: list[str]) -> str:
    """The first word of a line's coordinates that is not a finite number."""
    return next(w for w in words if not np.isfinite(float(w)))


def fill_polygon(shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    """One polygon as ultralytics' ``polygon2mask`` fills it: a ``bool`` mask."""
    import cv2

    out = np.zeros(shape, np.uint8)
    cv2.fillPoly(out, [np.asarray(points, np.int32).reshape(-1, 1, 2)], 1)
    return out.astype(bool)


def _filled_in_box(
    shape: tuple[int, int], points: np.ndarray
) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """What :func:`fill_polygon` fills, within the polygon's box (clipped to ``shape``):
    the box's slices and its ``bool`` pixels; ``None`` when the box lies outside. The
    same pixels (fillPoly is the same under a whole-pixel shift), without a whole-picture
    mask per polygon (a 36 MP picture: 14 ms a polygon, whatever its size)."""
    import cv2

    pts = np.asarray(points, np.int32).reshape(-1, 2)
    x0, y0 = np.maximum(pts.min(axis=0), 0)
    x1, y1 = np.minimum(pts.max(axis=0), (shape[1] - 1, shape[0] - 1))
    if x1 < x0 or y1 < y0:
        return None
    out = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    cv2.fillPoly(out, [(pts - (x0, y0)).reshape(-1, 1, 2)], 1)
    return (slice(y0, y1 + 1), slice(x0, x1 + 1)), out.astype(bool)


def polygon_pixels(shape: tuple[int, int], points: np.ndarray) -> int:
    """How many pixels :func:`fill_polygon` fills, counted within the polygon's box."""
    filled = _filled_in_box(shape, points)
    return 0 if filled is None else int(np.count_nonzero(filled[1]))


def paint_polygon(mask: np.ndarray, points: np.ndarray, value: int) -> None:
    """``mask[fill_polygon(mask.shape, points)] = value``, within the polygon's box."""
    filled = _filled_in_box(mask.shape[:2], points)
    if filled is not None:
        box, inside = filled
        mask[box][inside] = value


def read_yolo(src: Path, options: ImportOptions = DEFAULT_IMPORT) -> ReadResult:
    src = Path(src)
    yaml_note = ""  # (the YAML given is not named again)
    if src.is_file() and src.suffix.lower() in YAML_SUFFIXES:  # data.yaml itself
        doc = _load_yaml(src)
        yaml_names = _names_in(src, doc)
        if yaml_names is None:
            raise FormatError(f"{src}: not a YOLO dataset YAML (no 'names' of classes)")
        names = yaml_names
        root, files, named_images = _yaml_label_files(src, doc)
        if files:  # the folder holding the dataset and every labels folder read
            # (absolute: the YAML given as data.yaml may list absolute paths)
            folders = [root, *(f.parent for f in files)]
            root = Path(os.path.commonpath([Path(f).absolute() for f in folders]))
        labels_root = root
    elif not src.is_dir():
        raise FormatError(
            f"{src}: expected a YOLO dataset folder or its data.yaml"
            + format_hint(src, "yolo", options.format_how)
        )
    else:
        root = src
        labels_root = src / "labels" if (src / "labels").is_dir() else src
        not_labels: set[Path] = set()
        listed = None
        if not _yaml_files(root):  # a split's folder: the YAML sits above it
            root = src.parent
            if not _yaml_files(root):
                root = src
                listed = _class_list(src, labels_root)
                if listed is None:
                    raise FormatError(
                        f"{src}: no dataset YAML naming the classes (data.yaml or *.yaml), "
                        f"in this folder or the one above it, and no {' or '.join(CLASS_LISTS)}"
                        " in it" + format_hint(src, "yolo", options.format_how)
                    )
                names, read_from, not_labels = listed
        if listed is None:
            names, read_from = _yaml_names(root, src)
        if read_from != src / "data.yaml":  # (the summary names a YAML found elsewhere)
            yaml_note = f"class names read from {read_from}"
        files = [f for f in _label_files(labels_root) if f not in not_labels]
        named_images = None
    result = ReadResult(declared=list(names))
    if yaml_note:
        result.notes.append(yaml_note)
    background = chosen_background(options, names, automatic=False)
    all_names = list(names)
    if background is not None and background.lower() not in names_lut(all_names):
        all_names.append(background)
        result.background_added = True
    fill = names_lut(all_names)[background.lower()] if background is not None else UNLABELLED
    if not files:
        raise FormatError(
            f"{labels_root}: no YOLO label files found"
            + format_hint(src, "yolo", options.format_how)
        )
    beside = ImagesBeside()
    paired: set[Path] = set()
    left = ObjectsLeftOut()
    for f in files:
        try:
            image = _find_image(f, labels_root, root, beside)
            if image is None:
                raise FormatError(
                    f"{f}: no image with the same stem next to it or in the images/ folder "
                    "matching its labels/ folder"
                )
            paired.add(image)
            height, width = image_size(image, options, f)
            name = _shown(f, root)
            lost = len(left.objects)
            shapes = list(parse_label_file(f, width, height, len(names), left, name))
            # (a line left out may lie anywhere: the pixels no line covers stay unlabelled)
            kept = fill if len(left.objects) == lost else UNLABELLED
            mask = np.full((height, width), kept, np.int32)
            if fill != UNLABELLED and len(left.objects) > lost:
                left.keep_unlabelled(name, all_names[fill])
            # Where objects overlap, the smaller one wins, as in the masks ultralytics
            # trains on (``polygons2masks_overlap`` draws the largest first).
            shapes.sort(key=lambda shape: -polygon_pixels((height, width), shape[1]))
            for cls, pix in shapes:
                paint_polygon(mask, pix, cls)
            result.items.append(
                ImportItem(
                    source=f,
                    image_name=image.name,
                    width=width,
                    height=height,
                    mask=mask,
                    names=tuple(all_names),
                    image_file=image,
                )
            )
        except FormatError as exc:
            result.errors.append((str(f), str(exc)))
    # the images the YAML names; from a folder, those beside the labelled ones and those
    # of its images folders (images/val of a split whose images show no object)
    candidates = (
        named_images
        if named_images is not None
        else [
            p
            for folder in dict.fromkeys(sorted({i.parent for i in paired}) + _image_folders(src))
            for p in _images_in(folder)
        ]
    )
    # (an image with a label file's stem is left to that file: its error says why)
    stems, seen = {f.stem for f in files}, {p.resolve() for p in paired}
    lonely = [p for p in candidates if p.stem not in stems and p.resolve() not in seen]
    # A source none of whose lines can be drawn is refused, not imported as images with
    # no labels (left_out.py says why); one with a few is imported without them.
    left.check_some_drawn(src)
    if note := left.note():
        result.notes.append(note)
    _add_images_without_labels(result, lonely, fill, all_names, options)
    return result


def _shown(path: Path, root: Path) -> str:
    """``path`` as the summary names it: relative to the dataset's folder."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def _add_images_without_labels(
    result: ReadResult,
    lonely: list[Path],
    fill: int,
    all_names: list[str],
    options: ImportOptions,
) -> None:
    """Add the images ``lonely``, which have no label file: ultralytics' way of saying an
    image shows no object. With ``--background CLASS`` every pixel is that class;
    without, nothing is labelled, and a note says how many."""
    for image in lonely:
        try:
            height, width = image_size(image, options, image)
        except FormatError as exc:
            result.errors.append((str(image), str(exc)))
            continue
        result.items.append(
            ImportItem(
                source=image,
                image_name=image.name,
                width=width,
                height=height,
                mask=np.full((height, width), fill, np.int32),
                names=tuple(all_names),
                image_file=image,
            )
        )
    if fill == UNLABELLED:  # (the summary's line on images left unlabelled counts them)
        result.without_label_file = [image.name for image in lonely]
