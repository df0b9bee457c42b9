"""YOLO segmentation (ultralytics): normalised polygons, one text file per image.

Written::

    OUT/data.yaml                     path, train/val/test image folders, names
    OUT/images/<split>/<stem>.<ext>
    OUT/labels/<split>/<stem>.txt     "class x1 y1 x2 y2 ..." per hole-free region piece

Coordinates are pixel centres ``(c + 0.5) / width`` so that both ultralytics
(``polygon * size`` truncated to int, then ``cv2.fillPoly``) and our reader land on
pixel ``c`` again. Void and unlabelled pixels are not written. YOLO has no holes, so
regions with holes are cut into hole-free pieces.

Read: SRC is the dataset folder (with ``data.yaml`` or ``*.yaml`` naming the classes)
or a labels folder; polygons are filled in file order with ``cv2.fillPoly``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from annotator.core.errors import AnnotatorError, FormatError
from annotator.core.orientation import exif_orientation
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
    names_lut,
    open_pil,
)
from annotator.formats.polygons import fill_centre_polygons, pad_to_three, region_polygons

DESCRIPTION = "YOLO segmentation: normalised polygons per region, data.yaml"


def mask_to_lines(mask: np.ndarray, n_classes: int) -> list[str]:
    h, w = mask.shape
    scale = np.array([w, h], np.float64)
    lines = []
    for region, polys in region_polygons(mask, range(n_classes), "centre"):
        for poly in polys:
            xy = (pad_to_three(poly).astype(np.float64) + 0.5) / scale
            lines.append(f"{region.class_id} " + " ".join(f"{v:.6f}" for v in xy.ravel()))
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
        if progress:
            progress(i, len(samples), s.stem)
        lines = mask_to_lines(s.load_mask(), n)
        folder.write_text(f"labels/{split}/{s.stem}.txt", "".join(x + "\n" for x in lines))
        folder.place_image(f"images/{split}/{s.image_file_name}", s.image_path, options.image_mode)
    doc: dict[str, Any] = {"path": "."}
    used = {split for split, _ in samples}
    for split in dataset.splits:
        if split in used:  # a split with no image names no folder (trainers stop on it)
            doc[split] = f"images/{split}"
    doc["names"] = {c.id: c.name for c in dataset.classes}
    folder.write_text("data.yaml", yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return folder.result()


# --- reading ---------------------------------------------------------------------------


def _yaml_names(root: Path) -> tuple[list[str], Path | None]:
    import yaml

    files = [root / "data.yaml"] if (root / "data.yaml").is_file() else sorted(root.glob("*.yaml"))
    for f in files:
        try:
            doc = yaml.safe_load(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            why = " ".join(str(exc).split())  # YAML errors span lines; the CLI shows one
            raise FormatError(f"{f}: cannot read the dataset YAML ({why})") from None
        if not isinstance(doc, dict) or "names" not in doc:
            continue
        names = doc["names"]
        if isinstance(names, dict):
            try:
                ids = sorted(int(k) for k in names)
            except (TypeError, ValueError):
                raise FormatError(f"{f}: 'names' keys must be class indices") from None
            if ids != list(range(len(ids))):
                raise FormatError(f"{f}: 'names' must number the classes 0..n-1")
            names = [names[k] if k in names else names[str(k)] for k in ids]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise FormatError(f"{f}: 'names' must be a list or a mapping of class names")
        cleaned = [n.strip() for n in names]
        if len({n.lower() for n in cleaned}) != len(cleaned) or not all(cleaned):
            raise FormatError(f"{f}: 'names' has an empty or repeated class name")
        return cleaned, f
    raise FormatError(f"{root}: no dataset YAML with 'names' found")


def _find_image(
    label_file: Path, labels_root: Path, root: Path, beside: ImagesBeside
) -> Path | None:
    try:
        rel = label_file.parent.relative_to(labels_root)
    except ValueError:
        return None
    for folder in (root / "images" / rel, label_file.parent):
        found = beside.find(folder, label_file.stem, label_file)
        if found is not None:
            return found
    return None


def parse_label_file(
    path: Path, width: int, height: int, n_classes: int
) -> list[tuple[int, np.ndarray]]:
    """``(class, (N, 2) int pixel points)`` per line; malformed lines raise FormatError."""
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
            cls = int(parts[0])
            values = np.array([float(v) for v in parts[1:]], np.float64)
        except ValueError:
            raise FormatError(f"{where}: expected 'class x1 y1 x2 y2 ...' numbers") from None
        if not 0 <= cls < n_classes:
            raise FormatError(f"{where}: class {cls} is not in 0..{n_classes - 1}")
        if values.size == 4:
            raise FormatError(f"{where}: a box line (detection format), not a polygon")
        if values.size < 2 or values.size % 2 or not np.all(np.isfinite(values)):
            raise FormatError(f"{where}: a polygon needs x y pairs")
        if values.min() < -0.01 or values.max() > 1.01:
            raise FormatError(f"{where}: coordinates must be normalised to 0..1")
        xy = values.reshape(-1, 2) * np.array([width, height])
        pix = np.floor(xy).astype(np.int64)
        pix[:, 0] = np.clip(pix[:, 0], 0, width - 1)
        pix[:, 1] = np.clip(pix[:, 1], 0, height - 1)
        out.append((cls, pix))
    return out


def _image_size(image: Path, options: ImportOptions) -> tuple[int, int]:
    """``(height, width)`` as the project reads ``image`` (``options.image_size``), else
    from Pillow's header."""
    from PIL import UnidentifiedImageError

    if options.image_size is not None:
        try:
            return options.image_size(image)
        except AnnotatorError as exc:
            raise FormatError(f"cannot read the image size: {exc}") from None
    try:
        with open_pil(image, image) as im:
            width, height = im.size
            if exif_orientation(im) in (5, 6, 7, 8):  # shown rotated by 90
                width, height = height, width
    except (UnidentifiedImageError, OSError) as exc:
        raise FormatError(f"{image}: cannot read the image size ({exc})") from None
    return height, width


def read_yolo(src: Path, options: ImportOptions = DEFAULT_IMPORT) -> ReadResult:
    src = Path(src)
    if not src.is_dir():
        raise FormatError(f"{src}: expected a YOLO dataset folder")
    root = src
    labels_root = src / "labels" if (src / "labels").is_dir() else src
    if not list(root.glob("*.yaml")):  # a split's folder: the YAML sits above it
        root = src.parent
        if not list(root.glob("*.yaml")):
            raise FormatError(
                f"{src}: no dataset YAML naming the classes (data.yaml or *.yaml), in "
                "this folder or the one above it"
            )
    names, _ = _yaml_names(root)
    result = ReadResult(declared=list(names))
    background = chosen_background(options, names, automatic=False)
    all_names = list(names)
    if background is not None and background.lower() not in names_lut(all_names):
        all_names.append(background)
        result.background_added = True
    fill = names_lut(all_names)[background.lower()] if background is not None else UNLABELLED
    files = sorted(p for p in labels_root.rglob("*.txt") if p.is_file())
    if not files:
        raise FormatError(f"{labels_root}: no YOLO label files found")
    beside = ImagesBeside()
    for f in files:
        try:
            image = _find_image(f, labels_root, root, beside)
            if image is None:
                raise FormatError(f"{f}: no image with the same stem next to it or under images/")
            height, width = _image_size(image, options)
            mask = np.full((height, width), fill, np.int32)
            for cls, pix in parse_label_file(f, width, height, len(names)):
                mask[fill_centre_polygons((height, width), [pix])] = cls
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
    return result
