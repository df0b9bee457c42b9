"""The plain data every format reads and writes; no project, no Qt, no torch.

Writers get an :class:`ExportDataset` (classes, the reserved values, samples per split,
each sample loading its label map on demand). Readers return a :class:`ReadResult`:
decoded :class:`ImportItem` s in the *source's* class names, plus the files that could
not be read and why. Mapping names onto a project's classes is the service's job.
"""

from __future__ import annotations

import json
import os
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from annotator.core.errors import FormatError, json_problem
from annotator.core.folders import hidden, hidden_below
from annotator.core.orientation import quiet_exif
from annotator.core.schema import name_key
from annotator.core.status import ImageStatus
from annotator.core.volume_geometry import VolumeGeometry

Progress = Callable[[int, int, str], None]


def ticker(progress: Progress | None, done: int, total: int, message: str) -> Callable[[], None]:
    """A call that says ``progress(done, total, message)`` again, for work within one
    step (the polygons of a big label map): a cancel, which the call raises, stops the
    work there instead of at the next step."""
    if progress is None:
        return lambda: None
    return lambda: progress(done, total, message)


# Values of ImportItem.mask besides source class indices (>= 0).
UNLABELLED = -1
VOID = -2

IGNORE_LABEL = "__ignore__"  # labelme's name for void pixels
BACKGROUND_LABEL = "_background_"  # labelme's name for the class of uncovered pixels
NO_BACKGROUND = "none"  # --background none: uncovered pixels stay unlabelled
#: How the class of the pixels no shape covers is chosen, in the CLI's words (the GUI's
#: import dialog names its own field).
BACKGROUND_HOW = "--background"
#: How GeoTIFF masks are asked for, in the CLI's words (the GUI's export names its box).
GEOTIFF_HOW = "--geotiff"
#: How VOC pictures are kept as they are, in the CLI's words (the GUI names its field).
VOC_KEEP_HOW = "--voc-images keep"
#: How an nnU-Net export's summary tells to name its channels (the GUI names its field).
CHANNEL_NAMES_HOW = "--channel-names NAME"
#: How the user chooses the project's channels, in the CLI's words (its messages give the
#: whole ``annotator channels P --use ...`` command; the GUI names its menu instead).
CHANNEL_CHOICE_HOW = "annotator channels"
#: How an import's hint says to read a source as another format, in the CLI's words
#: (``--format voc``; the GUI names its Format field).
FORMAT_HOW = "--format"

SPLITS = ("train", "val", "test")

#: Names (any case) of a class 0 that is the background: the object formats write it as
#: no objects by default (``export --keep-background`` writes it).
BACKGROUND_NAMES = ("background", "bg", BACKGROUND_LABEL)


def is_background_name(name: str) -> bool:
    """Whether a class of this name is the background (:data:`BACKGROUND_NAMES`)."""
    return name.strip().lower() in BACKGROUND_NAMES


@dataclass(frozen=True)
class ClassInfo:
    """One class as an export sees it."""

    id: int
    name: str
    color: str


@dataclass(frozen=True)
class StackSlice:
    """Where an exported image sits in the stack it was split from (a project's
    ``slices/<stack>/``): slice ``index`` of ``planes``, of the label stack ``stack``;
    ``volume``: the record of a NIfTI volume's geometry (``core.volumes.geometry``), its
    labels then written as a NIfTI label volume; None for a TIFF stack."""

    stack: str
    index: int
    planes: int
    volume: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class StackVolume:
    """A TIFF stack the export's slices were split from (``StackSlice.stack``), whole:
    for a writer of volumes (nnU-Net's 3-D cases). ``load_slices``: the picture of every
    slice, in order, as the project reads it (None: its file is gone), exported or not;
    ``load_geometry``: where its voxels lie (the voxel size the stack recorded)."""

    name: str
    load_slices: tuple[Callable[[], np.ndarray] | None, ...] = field(compare=False, repr=False)
    load_geometry: Callable[[], VolumeGeometry] = field(compare=False, repr=False)


@dataclass(frozen=True)
class ExportSample:
    """One image to export. ``stem`` is unique within the export."""

    stem: str
    image_path: Path
    width: int
    height: int
    load_mask: Callable[[], np.ndarray] = field(compare=False, repr=False)
    stack: StackSlice | None = None
    #: The picture as the project reads it (upright, a TIFF by its axes), for a writer
    #: that writes it in another file format (VOC's JPEG); None: the file is all it has.
    load_image: Callable[[], np.ndarray] | None = field(default=None, compare=False, repr=False)
    #: The image's name in the project, which the export's file names may change (made
    #: safe, unique, short enough); "": the name of ``image_path``.
    name: str = ""

    @property
    def image_file_name(self) -> str:
        return self.stem + self.image_path.suffix.lower()


@dataclass(frozen=True)
class ExportDataset:
    """What a writer writes: label maps hold class ids, ``void`` and ``unlabelled``."""

    classes: tuple[ClassInfo, ...]
    void: int
    unlabelled: int
    dtype: str
    splits: dict[str, tuple[ExportSample, ...]]
    #: The stacks the samples' slices were split from, by ``StackSlice.stack`` (writers
    #: of volumes read every slice of them; the others need none).
    stacks: dict[str, StackVolume] = field(default_factory=dict)
    #: The project's Channel Choice (``core.channels``, 0-based; ``()``: none), for a
    #: writer that writes the pixels a model trains on.
    channel_choice: tuple[int, ...] = ()
    #: The names the nnU-Net dataset the pictures came from gave their channels, in
    #: channel order, and its ``dataset.json`` (``((), "")``: none known).
    source_channels: tuple[tuple[str, ...], str] = ((), "")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.classes]

    def samples(self) -> list[tuple[str, ExportSample]]:
        return [(split, s) for split, items in self.splits.items() for s in items]


@dataclass(frozen=True)
class ExportOptions:
    """Format options. ``image_mode``: copy | hardlink | symlink the image files.
    ``coco_mode``: polygon (iscrowd 0) | rle (iscrowd 1)."""

    image_mode: str = "copy"
    coco_mode: str = "polygon"
    #: Also one label stack (multi-page TIFF) per TIFF stack the images were split from,
    #: page i the labels of slice i (masks format).
    stacks: bool = False
    #: VOC's ``JPEGImages/``: ``jpg`` writes every picture JPEG can hold as
    #: ``<stem>.jpg`` (what VOC loaders read), ``keep`` copies each as it is.
    voc_images: str = "jpg"
    #: Masks format: the mask of a GeoTIFF picture as a GeoTIFF (``<stem>.tif``, the
    #: picture's geo tags copied) instead of a PNG with a world file (``formats.georef``).
    geotiff: bool = False
    #: nnU-Net's ``channel_names`` in dataset.json, one per channel written (``export
    #: --channel-names``); empty: the writer's own (``formats.nnunet``).
    channel_names: tuple[str, ...] = ()
    #: Class ids written as no objects by the object formats (COCO, YOLO, labelme:
    #: ``export --leave-out``); their pixels are left out as unlabelled ones are.
    leave_out: tuple[int, ...] = ()
    #: How the summary tells to ask for GeoTIFF masks (the GUI names its box).
    geotiff_how: str = GEOTIFF_HOW
    #: How the summary names the choice of VOC pictures kept as they are (the GUI: its
    #: field and choice).
    voc_keep_how: str = VOC_KEEP_HOW
    #: How the summary tells to name nnU-Net's channels (the GUI: its field).
    channel_names_how: str = CHANNEL_NAMES_HOW
    #: How the summary and refusals tell to choose the project's channels (the GUI: its
    #: menu).
    channel_choice_how: str = CHANNEL_CHOICE_HOW


@dataclass(frozen=True)
class WriteResult:
    """The files a writer wrote (paths relative to the output folder), and lines for the
    export's summary in the writer's words (what it changed or could not keep, and why)."""

    files: tuple[str, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImportOptions:
    """``labels_file``: the source's class list or colour table (labelme's ``labels.txt``,
    ``class_names.txt``, CVAT ``labelmap.txt``, CamVid ``class_dict.csv``...; default: the
    one in the source folder, if any). ``background``: class name given to pixels no
    shape covers, or ``"none"`` (default: ``default_background``, the project's
    background class, for labelme; else ``_background_`` when the source's class list
    has it, else unlabelled). ``image_size``: see the field."""

    labels_file: Path | None = None
    background: str | None = None
    default_background: str | None = None
    #: ``(height, width)`` of an image file as the project will read it (a format whose
    #: coordinates are fractions of the image needs it: YOLO, Label Studio; see
    #: :func:`image_size`); ``None``: Pillow's header, which misreads a TIFF of 5
    #: channels or of floats.
    image_size: Callable[[Path], tuple[int, int]] | None = None
    #: The names of the project's classes: labelme's ``_background_`` is read as the
    #: project's ``background`` (or the reverse) only when the project has no class of
    #: that other name itself.
    project_classes: tuple[str, ...] = ()
    #: The stacks whose slices are images of the project (``vol`` for ``vol_z000.tif``...),
    #: in lower case: a TIFF of masks whose planes say they are channels (an OME-TIFF
    #: written without axes says CYX) is the label stack of the one its stem names.
    project_stacks: frozenset[str] = frozenset()
    #: How the user gives another class table, for the summary (:func:`table_note`): the
    #: CLI's ``give --labels FILE``, the GUI's "choose a Class names file".
    labels_how: str = "give --labels FILE"
    #: How the user chooses the class of uncovered pixels, for the summary: the CLI's
    #: ``--background``, the GUI's field.
    background_how: str = BACKGROUND_HOW
    #: How the hint of a source that looks like another format says to choose that one
    #: (``formats.detect``): the CLI's ``--format``, the GUI's field.
    format_how: str = FORMAT_HOW
    #: Told ``(done, total, "reading annotations… NAME")`` per image by a reader that
    #: draws its labels (COCO, labelme), which can take seconds an image, ``(done,
    #: total, "checking masks… NAME")`` per mask file by the masks reader, and
    #: ``(0, 0, "reading FILE…")`` before a large file is parsed (COCO's JSON).
    progress: Progress | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ImportItem:
    """One decoded annotation file (or one image of a multi-image file).

    The labels (:meth:`labels`) are ``int32``: ``>= 0`` indexes ``names``, or with
    ``names is None`` is a raw pixel value to be read as a class id of the project;
    :data:`VOID` and :data:`UNLABELLED` mark the reserved values. ``raw_reserved`` tells
    the service how to read the raw values 254/255 (or 65534/65535) of a mask file with
    no class list.

    ``mask`` holds them, or ``load`` decodes them again when asked (a source of many big
    mask files would otherwise be held whole in memory until the last was read: 200
    masks of 1024 x 1024 peaked at 891 MB); ``used`` then lists the ``names`` indices
    they hold, found when the file was checked.
    """

    source: Path
    image_name: str
    width: int
    height: int
    mask: np.ndarray | None
    names: tuple[str, ...] | None
    image_file: Path | None = None
    image_data: bytes | None = None
    raw_bits: int = 0
    match_by_stem: bool = False
    load: Callable[[], np.ndarray] | None = field(default=None, compare=False, repr=False)
    used: tuple[int, ...] | None = None
    #: Other file names the picture may have, tried in order when ``image_name`` names
    #: no project image (Label Studio's uploads: the name with its 8-hex-digit prefix).
    other_names: tuple[str, ...] = ()
    #: A label stack's slice: the picture stack beside it (``images/vol.tif`` for
    #: ``masks/vol.tif``, ``vol.tif`` for ``vol_mask.tif``), whose slices the service adds
    #: when the project lacks them, and the number of slices the labels hold.
    picture_stack: Path | None = None
    stack_planes: int = 0
    #: Which slice of the label stack the item is (page of the file), None for a mask.
    stack_page: int | None = None
    #: Labels the project kept itself (a Kept Labels or Rescued Labels folder's
    #: ``images.json``): the SHA-1 of their image's picture, which finds it whatever the
    #: names say, that image's name then, and the status it had (an import otherwise
    #: makes the images it labels done).
    image_sha1: str | None = None
    kept_name: str | None = None
    status: ImageStatus | None = None
    #: The image's name with the folders the annotation gives it (COCO's ``file_name``
    #: ``sub1/a.jpg``): of several project images of its file name, the one whose name
    #: ends so is meant.
    image_path: str | None = None
    #: Why no picture beside the annotation was taken although one may be its own
    #: (``a.png`` and ``a.tif`` both there): said when no project image is meant either.
    image_problem: str | None = None

    def labels(self) -> np.ndarray:
        """The item's labels (decoded now when the item holds only their file)."""
        if self.mask is not None:
            return self.mask
        assert self.load is not None, "an ImportItem needs a mask or a load"
        return self.load()

    def used_names(self) -> tuple[int, ...]:
        """The ``names`` indices the labels hold."""
        if self.used is not None:
            return self.used
        labels = self.labels()
        return tuple(np.unique(labels[labels >= 0]).tolist())


def compact_labels(labels: np.ndarray) -> dict[str, Any]:
    """``load`` and ``used`` of an :class:`ImportItem` for drawn labels (any int type), kept
    in the smallest type that holds them until asked for: an 8192 x 6000 map is 49 MB as
    ``int8``, not 197 MB."""
    high = int(labels.max()) if labels.size else 0
    if high <= np.iinfo(np.int8).max:
        import cv2

        kept = labels.astype(np.int8, copy=False)
        flat = kept.view(np.uint8).reshape(1, -1) if kept.size else np.zeros((1, 1), np.uint8)
        counts = cv2.calcHist([flat], [0], None, [256], [0, 256]).ravel()  # (fast)
        used = tuple(int(v) for v in np.flatnonzero(counts[:128]))
    else:
        kept = labels.astype(np.int16) if high <= np.iinfo(np.int16).max else labels
        used = tuple(int(v) for v in np.flatnonzero(np.bincount(labels[labels >= 0])))
    return {"load": lambda: kept.astype(np.int32), "used": used}


@dataclass
class ReadResult:
    """Readable items, the class list the source declares (in its order), files that
    could not be read with the reason, and label names the class list does not know
    (name -> number of shapes skipped; their pixels stay unlabelled). ``background``:
    the class given to pixels no shape covers, when the reader filled them (labelme);
    ``kept_unlabelled``: files whose uncovered pixels stayed unlabelled because
    Annotator wrote them so."""

    items: list[ImportItem] = field(default_factory=list)
    declared: list[str] = field(default_factory=list)
    #: The classes the source's class table names (a dataset.json's too, whose classes
    #: no mask holds are not declared), in its order: the summary says which classes of
    #: the project none of them is. Empty: no table named them (raw ids).
    named: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    unknown: dict[str, int] = field(default_factory=dict)
    #: Annotations with a box and no mask (COCO ``segmentation: []``, as CVAT and Label
    #: Studio write rectangles): left out, counted; the rest of their file is read.
    boxes_only: int = 0
    background: str | None = None
    kept_unlabelled: int = 0
    #: Files whose uncovered pixels became the class they record (labelme files our
    #: export wrote, ``annotatorUncoveredClass``), by that class.
    recorded_background: dict[str, int] = field(default_factory=dict)
    #: The class given by ``--background`` is named by nothing in the source: the
    #: reader added it (a typo would otherwise become a class for good).
    background_added: bool = False
    #: Lines the import summary adds, in the reader's words (what it left out and why).
    notes: list[str] = field(default_factory=list)
    #: Images read with nothing labelled because no label file names them (YOLO's way
    #: of saying an image shows no object): the summary's line on unlabelled images
    #: says so.
    without_label_file: list[str] = field(default_factory=list)


# --- small helpers shared by the format modules ---------------------------------------


@dataclass
class _Listing:
    """The pictures of one folder: by stem as spelled, by stem in lower case, and by the
    names they are found by as a mask's picture (:func:`~annotator.core.naming.picture_keys`)."""

    by_stem: dict[str, list[Path]] = field(default_factory=dict)
    by_lower: dict[str, list[Path]] = field(default_factory=dict)
    by_key: dict[str, list[Path]] = field(default_factory=dict)


class ImagesBeside:
    """Finds the image an annotation names by its file stem, in a folder of the source.

    The stem must match: ``x`` finds ``x.jpg`` but never ``x.a.png``, and no glob
    pattern is built from it, so ``scan[1]`` is a plain name. Two images with the stem
    (``x.png`` and ``x.jpg``) are refused, since the annotation does not say which it
    belongs to. A stem spelled in other letters' case (``X.JPG`` for ``x``, a dataset
    made on Windows or macOS) is found when it is the only one. Each folder is listed
    once per reader run.
    """

    def __init__(self) -> None:
        from annotator.formats.paths import Namesakes

        self._folders: dict[Path, _Listing] = {}
        self._annotations = Namesakes()

    def _listing(self, folder: Path) -> _Listing:
        from annotator.core.limits import IMAGE_SUFFIXES
        from annotator.core.naming import picture_keys

        listing = self._folders.get(folder)
        if listing is None:
            listing = _Listing()
            try:
                found = sorted(folder.iterdir()) if folder.is_dir() else []
            except OSError:
                found = []
            for p in found:
                if p.suffix.lower() in IMAGE_SUFFIXES and not hidden(p) and p.is_file():
                    listing.by_stem.setdefault(p.stem, []).append(p)
                    listing.by_lower.setdefault(p.stem.lower(), []).append(p)
                    for key in picture_keys(p.stem):
                        listing.by_key.setdefault(key, []).append(p)
            self._folders[folder] = listing
        return listing

    def find(self, folder: Path, stem: str, where: Path) -> Path | None:
        """The picture of stem ``stem`` in ``folder`` (not ``where``, the annotation
        itself), or None; a FormatError when several have that very stem."""
        listing = self._listing(folder)
        hits = [p for p in listing.by_stem.get(stem, []) if p != where]
        if len(hits) > 1:
            raise FormatError(
                f"{where}: {', '.join(p.name for p in hits)} in {folder} all have the stem "
                f"{stem!r}; keep one of them, so it is clear which image the labels are for"
            )
        if not hits:  # X.JPG for x: only when it is the one, and no other's namesake
            hits = [p for p in listing.by_lower.get(stem.lower(), []) if p != where]
            if len(hits) == 1 and self._annotations.claim(where, hits[0]):
                return None
        return hits[0] if len(hits) == 1 else None

    def picture_of(
        self, folder: Path, mask_file: Path, stem: str, beside: bool = False
    ) -> Path | None:
        """The picture in ``folder`` of the mask file ``mask_file`` of stem ``stem``, by
        the rules ``annotator add`` pairs them by (``core.naming``): the picture of its
        stem (not ``beside`` it, in its own folder, where that is another mask); else
        the one picture named by its stem without its mask ending (``img0.jpg`` of
        ``img0_mask.png``) or by its pair base (``x_leftImg8bit.png`` of
        ``x_gtFine_labelIds.png``, nnU-Net's ``case_0000.png`` of ``case.png``); a file
        named as a mask is a picture by its whole stem only (``scene-gt.png`` of
        ``scene-gt_mask.png``). Several pictures of one stem are refused, as by
        :meth:`find`."""
        from annotator.core.naming import mask_keys

        keys = mask_keys(stem)
        if not beside:
            found = self.find(folder, stem, mask_file)
            if found is not None:
                return found
        elif len(keys) > 1:  # (the mask's own stem is its own, or another mask's)
            keys = keys[1:]
        else:
            return None
        listing = self._listing(folder)
        for key in keys:
            hits = [
                p
                for p in listing.by_key.get(key, [])
                if p != mask_file and not self._annotations.claim(mask_file, p)
            ]
            if len({p.stem for p in hits}) == 1 and len(hits) > 1:
                self.find(folder, hits[0].stem, mask_file)  # (refuses them, naming them)
            if hits:
                return hits[0] if len(hits) == 1 else None
        return None


def chosen_background(options: ImportOptions, names: Sequence[str], automatic: bool) -> str | None:
    """The class given to pixels no shape covers: ``--background CLASS``; none with
    ``--background none``; else, when ``automatic``, ``_background_`` if the source's
    class list has it (labelme's convention, which its COCO export keeps)."""
    chosen = options.background
    if chosen is not None:
        return None if chosen.strip().lower() == NO_BACKGROUND else chosen
    if automatic and BACKGROUND_LABEL.lower() in names_lut(names):
        return BACKGROUND_LABEL
    return None


def load_json(path: Path) -> Any:
    """Parse a JSON file (UTF-8, with or without the BOM Windows editors write); a
    malformed one raises a FormatError naming the file."""
    try:
        with open(path, encoding="utf-8-sig") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise FormatError(f"{path}: not valid JSON ({json_problem(exc)})") from None
    except UnicodeDecodeError:
        raise FormatError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror or exc})") from None


def json_files(
    src: Path, what: str, tried: str, *, below: bool = False, how: str = FORMAT_HOW
) -> list[Path]:
    """``src`` itself when it is a file, else the ``*.json`` files in it (``below``: in
    it and its subfolders), sorted; a FormatError saying no ``what`` was found, and
    which format ``src`` looks like when not the ``tried`` one (told as ``how`` chooses
    a format: :func:`~annotator.formats.detect.choose_format`)."""
    from annotator.formats.detect import format_hint

    if src.is_file():
        hint = "" if src.suffix.lower() == ".json" else format_hint(src, tried, how)
        if hint:  # (a data.yaml given to a COCO import)
            raise FormatError(f"{src}: not a JSON file{hint}")
        return [src]
    if src.is_dir():
        found = src.rglob("*.json") if below else src.glob("*.json")
        files = sorted(p for p in found if not hidden_below(p, src) and p.is_file())
        if files:
            return files
    raise FormatError(f"{src}: no {what} found" + format_hint(src, tried, how))


def read_names_file(path: Path) -> list[str]:
    """The class names a class list gives, in id order: one name per line, or a table
    recognised by its content (CVAT ``labelmap.txt``, CamVid ``label_colors.txt``, a CSV
    with a header), whose comments, header, colours and ids are never names
    (:func:`~annotator.formats.colour_table.read_class_table` has the ids and colours)."""
    from annotator.formats.colour_table import read_class_table

    return list(read_class_table(path).names)


def place_image(src: Path, dst: Path, mode: str) -> str | None:
    """Put the image ``src`` at ``dst`` by copy, hard link or symbolic link; why a hard
    link asked for was a copy instead (another file system, links not allowed), else
    ``None``.

    A picture an EXIF orientation turns is written upright instead (whatever ``mode``):
    the project shows it upright and its labels are drawn so, but readers that ignore
    the tag (torchvision's VOC dataset, a plain ``Image.open``) would pair the labels
    with the picture as stored, turned."""
    import shutil

    dst.parent.mkdir(parents=True, exist_ok=True)
    if mode not in ("copy", "hardlink", "symlink"):
        raise FormatError(f"unknown image mode {mode!r}; use copy, hardlink or symlink")
    if _write_upright(src, dst):
        return None
    if mode == "symlink":
        os.symlink(src.resolve(), dst)
        return None
    why = None
    if mode == "hardlink":
        try:
            os.link(src, dst)
            return None
        except OSError as exc:  # another file system, or not allowed: fall back to a copy
            why = exc.strerror or str(exc)
    shutil.copyfile(src, dst)
    return why


def _write_upright(src: Path, dst: Path) -> bool:
    """Write ``src`` upright at ``dst`` when its EXIF orientation turns it (JPEG, PNG:
    the pictures the project reads with their orientation); False when it does not.

    A JPEG is encoded again (quality 95, no chroma subsampling), its other EXIF tags and
    colour profile kept; a PNG is rewritten losslessly, 16-bit too."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    from annotator.core.orientation import apply_exif_orientation, exif_orientation

    try:
        with quiet_exif(), Image.open(src) as im:
            if im.format not in ("JPEG", "MPO", "PNG"):
                return False
            orientation = exif_orientation(im)
            if orientation == 1:
                return False
            if im.format != "PNG":
                upright = ImageOps.exif_transpose(im)
                upright.save(
                    dst,
                    format="JPEG",
                    quality=95,
                    subsampling=0,
                    exif=upright.info.get("exif", b""),
                    icc_profile=im.info.get("icc_profile"),
                )
                return True
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError):
        return False  # not a picture Pillow reads whole: copied as it is
    import cv2

    array = cv2.imdecode(np.fromfile(src, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None:
        return False
    ok, buf = cv2.imencode(".png", apply_exif_orientation(array, orientation))
    if not ok:
        raise FormatError(f"{src}: could not write it upright as PNG")
    dst.write_bytes(buf.tobytes())
    return True


def encode_png(array: np.ndarray) -> bytes:
    """Lossless single-channel PNG (8 or 16 bit by dtype)."""
    import cv2

    ok, buf = cv2.imencode(".png", array, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise FormatError("could not encode a PNG mask")
    return buf.tobytes()


def check_pixels(width: int, height: int, where: object) -> None:
    """Refuse sizes past the pixel limit before anything of that size is allocated."""
    from annotator.core.limits import max_pixels

    if width * height > max_pixels():
        raise FormatError(
            f"{where}: {width}x{height} is more than the limit of {max_pixels():,} pixels "
            "(set ANNOTATOR_MAX_PIXELS to allow it)"
        )


def open_pil(source: Any, where: object):  # type: ignore[no-untyped-def]
    """``PIL.Image.open`` with our pixel limit (:func:`check_pixels`) instead of
    Pillow's own, which would refuse images the project accepts with an exception no
    caller expects. Pillow errors stay the caller's to word."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # as annotator.storage.images does: we check it ourselves
    with quiet_exif():
        im = Image.open(source)
    try:
        check_pixels(im.width, im.height, where)
    except FormatError:
        im.close()
        raise
    return im


def image_size(path: Path, options: ImportOptions, where: object) -> tuple[int, int]:
    """``(height, width)`` of a picture as the project will read it: the project's own
    size reader (``options.image_size``), else Pillow's header, swapped when the EXIF
    orientation (5-8) shows the picture turned by 90 degrees. What cannot be read is a
    FormatError: ``where: cannot read the size of PATH (why)``."""
    from annotator.core.errors import AnnotatorError
    from annotator.core.orientation import exif_orientation

    try:
        if options.image_size is not None:
            return options.image_size(path)
        with open_pil(path, path) as im:
            width, height = im.size
            turned = exif_orientation(im) in (5, 6, 7, 8)
    except (AnnotatorError, OSError, SyntaxError, ValueError) as exc:
        raise FormatError(f"{where}: cannot read the size of {path} ({exc})") from None
    return (width, height) if turned else (height, width)


def picture_orientation(picture: Path | bytes) -> int:
    """The EXIF orientation (1-8; 1 when absent or unreadable) of a picture file, or of
    a picture's bytes (embedded in an imported file)."""
    import io

    from PIL import Image

    from annotator.core.orientation import exif_orientation

    try:
        source = io.BytesIO(picture) if isinstance(picture, bytes) else picture
        with quiet_exif(), Image.open(source) as im:
            return exif_orientation(im)
    except Exception:  # unreadable: no orientation to blame (reading it says why)
        return 1


def check_number(value: Any, where: str) -> float:
    """A finite number from a JSON file (ints past float range are refused, not a crash)."""
    number = float("nan")
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:
            pass
    if not np.isfinite(number):
        shown = (
            repr(value)[:40]
            if not isinstance(value, int)
            else f"an integer of {value.bit_length()} bits"
        )
        raise FormatError(f"{where}: expected a finite number, got {shown}")
    return number


class NameLut(dict[str, int]):
    """Class name -> index, looked up by :func:`~annotator.core.schema.name_key` (any case,
    either Unicode form): "café" typed two ways in two files is one class."""

    def __getitem__(self, name: str) -> int:
        return super().__getitem__(name_key(name))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name_key(name))

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(name_key(name), default)


def names_lut(names: Iterable[str]) -> NameLut:
    """Name -> index, compared as class names are (:class:`NameLut`)."""
    lut = NameLut()
    for i, n in enumerate(names):
        dict.__setitem__(lut, name_key(n), i)
    return lut


def joined_spellings(
    names: Sequence[str], labels: Iterable[str], project_classes: Sequence[str] = ()
) -> str | None:
    """The summary's line on the ``labels`` as a source spells them that were read as a
    class of ``names`` spelled otherwise (``Cell``, ``cell``, `` cell``: one class, as
    class names compare in any case), named as the project names it when it has it;
    None when each was its class's very name. A label spelled otherwise only in its
    Unicode form looks the same, and is not said."""
    lut = names_lut(names)
    own = {name_key(n): n for n in project_classes}
    joined: dict[str, list[str]] = {}
    for label in dict.fromkeys(labels):
        if label in lut:
            name = own.get(name_key(label), names[lut[label]])
            looks = unicodedata.normalize("NFC", label) != unicodedata.normalize("NFC", name)
            if name_key(name) == name_key(label) and looks:
                joined.setdefault(name, []).append(label)
    if not joined:
        return None
    said = "; ".join(
        f"{', '.join(repr(s) for s in spelled)} as {name!r}" for name, spelled in joined.items()
    )
    return (
        "read labels spelled otherwise as one class (class names compare in any case, "
        f"without spaces around them): {said}"
    )


def as_project_names(names: Sequence[str], project_classes: Sequence[str]) -> list[str]:
    """The source's class names as the project calls them: labelme's ``_background_``
    (what labelme2voc and labelme2coco write) is the project's ``background``, and the
    reverse, when the project has that one name and not the other, and the source does
    not list both as classes of their own."""
    own = {n.lower(): n for n in project_classes}
    listed = {n.lower() for n in names}
    pair = (BACKGROUND_LABEL, "background")
    if all(p in listed for p in pair):
        return list(names)
    out = list(names)
    for i, n in enumerate(out):
        low = n.lower()
        if low in pair and low not in own:
            other = pair[1 - pair.index(low)]
            if other in own:
                out[i] = own[other]
    return out


class OutputFolder:
    """Writes files under one folder, every name checked with ``safe_join``, and keeps
    the list of what it wrote."""

    def __init__(self, root: Path) -> None:
        from annotator.formats.paths import safe_join

        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._join = safe_join
        self.files: list[str] = []
        #: Pictures copied where a hard link was asked for: how many, and the first's
        #: name and reason.
        self._copied: list[tuple[str, str]] = []

    def path(self, rel: str) -> Path:
        p = self._join(self.root, rel, what="output file name")
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def write_bytes(self, rel: str, data: bytes) -> Path:
        p = self.path(rel)
        p.write_bytes(data)
        self.files.append(rel)
        return p

    def write_text(self, rel: str, text: str) -> Path:
        return self.write_bytes(rel, text.encode("utf-8"))

    def write_json(self, rel: str, obj: Any) -> Path:
        # Compact on purpose: with ``indent`` the json module falls back from its C encoder
        # to pure Python, which made JSON writing most of the COCO/labelme export time.
        text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
        return self.write_bytes(rel, (text + "\n").encode("utf-8"))

    def place_image(self, rel: str, src: Path, mode: str) -> Path:
        p = self.path(rel)
        if (why := place_image(src, p, mode)) is not None:
            self._copied.append((rel, why))
        self.files.append(rel)
        return p

    def result(self, notes: Iterable[str] = ()) -> WriteResult:
        said = list(notes)
        if self._copied:
            rel, why = self._copied[0]
            said.append(
                f"{len(self._copied)} picture(s) copied, not hard-linked, since the link "
                f"was refused (first: {rel}: {why}; a hard link needs the same file system)"
            )
        return WriteResult(tuple(self.files), tuple(said))


DEFAULT_EXPORT = ExportOptions()
DEFAULT_IMPORT = ImportOptions()
