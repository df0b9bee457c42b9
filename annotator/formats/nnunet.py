"""nnU-Net v2's raw dataset, as ``nnUNetv2_plan_and_preprocess`` reads it (nnU-Net's
``documentation/dataset_format.md``; the decisions: docs/adr/0035).

Written::

    OUT/dataset.json                  channel_names, labels, numTraining, file_ending,
                                      overwrite_image_reader_writer (+ renamed_labels)
    OUT/imagesTr/<case>_<XXXX><ext>   the train and val cases, one file per input
                                      channel (XXXX = 0000, 0001...)
    OUT/labelsTr/<case><ext>
    OUT/imagesTs/, OUT/labelsTs/      the test cases (nnU-Net never reads them: they are
                                      for nnUNetv2_predict and nnUNetv2_evaluate_folder)

nnU-Net makes its own 5-fold cross-validation of ``imagesTr``, so train and val go there
together; its split file lives in ``nnUNet_preprocessed`` and is not written here.

*Cases.* A picture is a 2-D case; the slices of one stack (ADR 0022), exported or not,
are one 3-D case, the slices in order. A stack split from a NIfTI scan is written in the
scan's own space, always (its affine and voxel order); a TIFF stack with the voxel size
it recorded, kept when every other case has one, in one unit (:func:`volume_geometries`).
The channels are those a model of the project trains on: the Channel Choice, else the
first three (``core.channels``), but every channel when every case has the same number
of them, more than three (a multi-modal scan: :func:`every_channel`); every case has the dataset's channel count (nnU-Net
needs the same channels everywhere), a grey picture among colour ones repeated into
three. ``channel_names``: the export's own (``--channel-names``), else ``CT`` when every
case is a NIfTI scan of Hounsfield units (``core.contrast.looks_like_ct``), else names
that pick nnU-Net's per-case z-score.

*One ending* (``file_ending``) for the whole dataset: ``.png`` when every case is a 2-D
picture of 8- or 16-bit integers; then three channels of 8-bit pictures are one RGB
PNG ``_0000.png`` (nnU-Net's ``NaturalImage2DIO`` reads it as channels R, G, B, as its
road segmentation example writes them), and otherwise each channel is a grey PNG of
its own (skimage, which that reader uses, makes a 16-bit RGB PNG 8-bit). Else
``.nii.gz`` for every case, one file per channel: a stack's volume, and each picture
as a 2-D NIfTI (one slice, two axes), which nnU-Net's ``SimpleITKIO`` reads as a 2-D
case. Picture column, row and slice are NIfTI x, y, z (``formats.nifti``).

*Labels.* nnU-Net's label 0 must be named ``background`` and be the background; its
ids are consecutive. The project's class named ``background`` or ``_background_`` (any
case) is 0 and the others follow in the project's order; a project with no such class
has its classes at 1, 2... and 0 left unused, as nnU-Net asks ("if there is no
background, do not use the label 0 for something else"). Unlabelled and void pixels,
and the slices of a stack not exported, are nnU-Net's ``ignore`` label, the highest id
(nnU-Net's rule), declared only when some label file holds it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from annotator.core.channels import applies, describe, lacking_note, pick
from annotator.core.contrast import AIR_AT_MOST, channel_count, finite_values, looks_like_ct
from annotator.core.errors import FormatError
from annotator.core.naming import NAME_MAX, unique_stems
from annotator.core.schema import name_key
from annotator.core.volume_geometry import UNIT_VOXELS, VolumeGeometry
from annotator.formats.base import (
    CHANNEL_CHOICE_HOW,
    CHANNEL_NAMES_HOW,
    DEFAULT_EXPORT,
    ExportDataset,
    ExportOptions,
    ExportSample,
    OutputFolder,
    Progress,
    StackVolume,
    WriteResult,
    encode_png,
)
from annotator.formats.nifti import nifti_bytes
from annotator.formats.paths import safe_stem

DESCRIPTION = (
    "nnU-Net v2 raw dataset: imagesTr/, labelsTr/, imagesTs/, labelsTs/, dataset.json "
    "(PNG, or NIfTI for stacks)"
)

PNG = ".png"
NIFTI = ".nii.gz"
#: nnU-Net's reader of each ending (``overwrite_image_reader_writer``: no guessing).
READERS = {PNG: "NaturalImage2DIO", NIFTI: "SimpleITKIO"}
BACKGROUND = "background"
IGNORE = "ignore"
#: The project's class names taken for nnU-Net's background (compared in any case).
BACKGROUND_NAMES = ("background", "_background_")
#: The splits whose cases go to ``imagesTr`` (nnU-Net cross-validates them itself).
TRAINING_SPLITS = ("train", "val")
#: nnU-Net's default cross-validation has this many folds (one case each at least).
FOLDS = 5
#: A case name leaves room for the longest file name made of it.
CASE_BYTES = NAME_MAX - len("_0000" + NIFTI)
#: The dataset folder name nnU-Net finds in ``$nnUNet_raw``.
DATASET_NAME = r"Dataset\d{3}_\w+"


@dataclass(frozen=True)
class Labels:
    """The project's label values as nnU-Net's: ``names`` (nnU-Net's ``labels`` without
    ``ignore``), ``ignore`` (its id, one past the highest), ``lut`` (project value ->
    nnU-Net id; every value no class has is ``ignore``), ``renamed`` (nnU-Net's name ->
    the project's, where they differ)."""

    names: dict[str, int]
    ignore: int
    lut: np.ndarray
    renamed: dict[str, str]
    #: The project's background class (its id), or None: nnU-Net's 0 is left unused.
    background: int | None

    @property
    def dtype(self) -> type[np.unsignedinteger]:
        return np.uint8 if self.ignore <= np.iinfo(np.uint8).max else np.uint16

    def of(self, mask: np.ndarray) -> np.ndarray:
        """A label map in nnU-Net's ids (of :attr:`dtype`: the table is)."""
        return self.lut[mask]

    def notes(self, project_names: Sequence[str]) -> list[str]:
        """What the summary says of the ids, when they are not the project's."""
        lines = []
        if self.background is None:
            lines.append(
                "nnU-Net's label 0 must be the background and the project has no class "
                f"named background or _background_: the classes are 1 to "
                f"{len(project_names)} (the project's ids plus 1) and 0 is left unused, "
                "as nnU-Net asks"
            )
        elif self.background != 0:
            lines.append(
                f"class {project_names[self.background]!r} (id {self.background} in the "
                "project) is nnU-Net's label 0, the background; the others follow in order"
            )
        if self.renamed:
            pairs = ", ".join(f"{old!r} as {new!r}" for new, old in self.renamed.items())
            lines.append(
                f"class names nnU-Net reserves are renamed: {pairs} (dataset.json's "
                "renamed_labels keeps the project's)"
            )
        return lines


def nnunet_labels(names: Sequence[str], void: int, unlabelled: int) -> Labels:
    """nnU-Net's ids of a project's classes (the module's docstring)."""
    keys = [name_key(n) for n in names]
    background = next((keys.index(b) for b in BACKGROUND_NAMES if b in keys), None)
    order = list(range(len(names)))
    if background is not None:
        order.remove(background)
        order.insert(0, background)
    first = 0 if background is not None else 1
    out: dict[str, int] = {} if background is not None else {BACKGROUND: 0}
    renamed: dict[str, str] = {}
    used = {name_key(BACKGROUND), IGNORE}
    lut = np.full(max(void, unlabelled, len(names) - 1) + 1, -1, np.int64)
    for new_id, old_id in enumerate(order, start=first):
        name = BACKGROUND if old_id == background else names[old_id]
        n = 2
        while old_id != background and name_key(name) in used:
            name = f"{names[old_id]}_{n}"
            n += 1
        used.add(name_key(name))
        if name != names[old_id]:
            renamed[name] = names[old_id]
        out[name] = new_id
        lut[old_id] = new_id
    ignore = first + len(names)
    lut[lut < 0] = ignore
    dtype = np.uint8 if ignore <= np.iinfo(np.uint8).max else np.uint16
    return Labels(out, ignore, lut.astype(dtype), renamed, background)


def dataset_name_problem(folder_name: str) -> str | None:
    """Why nnU-Net would not find a dataset folder of this name in ``$nnUNet_raw``
    (None: it would)."""
    if re.fullmatch(DATASET_NAME, folder_name):
        return None
    word = re.sub(r"\W+", "_", folder_name).strip("_") or "Annotator"
    return (
        f"nnU-Net finds a dataset only in a folder named DatasetNNN_Name (three digits); "
        f"rename {folder_name!r}, e.g. to Dataset501_{word}"
    )


# --- cases -----------------------------------------------------------------------------


@dataclass
class _Case:
    """One nnU-Net case: a 2-D picture (``samples`` is that one), or a stack's volume
    (``stack``; ``samples``: its exported slices)."""

    name: str
    split: str
    samples: list[ExportSample]
    stack: StackVolume | None = None

    @property
    def training(self) -> bool:
        return self.split in TRAINING_SPLITS

    def first_picture(self) -> np.ndarray | None:
        """One picture of the case (a stack's first slice whose file is there)."""
        if self.stack is None:
            return _picture(self.samples[0])
        return next((load() for load in self.stack.load_slices if load is not None), None)


def _picture(sample: ExportSample) -> np.ndarray:
    if sample.load_image is None:  # (the service always gives one)
        raise FormatError(f"{sample.name or sample.stem}: the picture cannot be read")
    return sample.load_image()


#: nnU-Net's channel ending of a case's first input file (``case_0000``, and
#: ``case_0000~2``, the second scan of that name the project was given).
_CHANNEL_0 = re.compile(r"_0000(?=(~\d+)?$)")
#: The ending of a name made unique (``liver~2``: by the project or here).
_APART = re.compile(r"~\d+$")


def _cases(dataset: ExportDataset) -> list[_Case]:
    """The export's cases, named uniquely, in the order of the splits and samples."""
    cases: list[_Case] = []
    volumes: dict[str, _Case] = {}
    for split, sample in dataset.samples():
        where = sample.stack
        stack = dataset.stacks.get(where.stack) if where is not None else None
        if where is None or stack is None:
            # a picture of an nnU-Net dataset (case_0000.png, or its channel files joined:
            # case_0000.tif) is the case "case", as a scan's is
            cases.append(_Case(_CHANNEL_0.sub("", sample.stem) or sample.stem, split, [sample]))
            continue
        case = volumes.get(where.stack)
        if case is None:
            # a scan of an nnU-Net dataset (case_0000.nii.gz: channel 0) is the case "case",
            # the project's second of that name (case_0000~2) the case "case~2"
            name = _CHANNEL_0.sub("", where.stack) or where.stack
            case = volumes[where.stack] = _Case(safe_stem(name + ".tif"), split, [], stack)
            cases.append(case)
        case.samples.append(sample)
    names = unique_stems([(i, c.name) for i, c in enumerate(cases)], CASE_BYTES)
    for i, case in enumerate(cases):
        case.name = names[i]
    return cases


# --- channels --------------------------------------------------------------------------

#: Stands for the project in a command a note suggests: the service puts the project's
#: path there, shell-quoted (:func:`with_project`; the writer does not know it).
PROJECT = "\x00project\x00"


def with_project(notes: Sequence[str], project_word: str) -> list[str]:
    """The writer's ``notes`` with the project's path (``project_word``, quoted for a
    shell) in the commands they suggest."""
    return [note.replace(PROJECT, project_word) for note in notes]


def lacking_cases(names: Sequence[str], choice: Sequence[int]) -> str:
    """The summary's line on the pictures left out of the export, lacking a channel of
    the Channel Choice ``choice`` (``core.channels.lacks``): training leaves them out
    too, and their own channels under the chosen channels' names would mix two kinds
    of input in one dataset."""
    return lacking_note(names, choice, "are left out of the export")


def every_case_lacks(
    choice: Sequence[int], project_word: str, how: str = CHANNEL_CHOICE_HOW
) -> str:
    """Why an nnU-Net export of pictures that each lack a channel of ``choice`` is
    refused, with what to do (``how``: how the user chooses channels, the CLI's command
    by default)."""
    command = (
        f"`annotator channels {project_word} --use ...`, or --reset"
        if how == CHANNEL_CHOICE_HOW
        else how
    )
    return (
        f"every picture to export lacks channel {max(choice) + 1} of the Channel Choice "
        f"{describe(choice)}, so nothing is left to export for nnU-Net: choose channels they "
        f"have ({command})"
    )


def trained_channels(picture: np.ndarray, choice: Sequence[int]) -> np.ndarray:
    """``(H, W, c)``: the channels ``choice`` picks (:func:`every_channel`: all of
    them), else, with none, those a model of the project takes (the first three:
    ``core.channels``, ``ml.data``)."""
    picked = pick(picture, choice)
    if picked.ndim == 2:
        picked = picked[..., None]
    chosen = bool(choice) and applies(channel_count(picture), choice)
    return picked if chosen else picked[..., :3]


def fit_channels(picture: np.ndarray, channels: int) -> np.ndarray:
    """``(H, W, c)`` -> ``(H, W, channels)``: a grey picture repeated; two channels among
    three are magenta and green (the first twice), as models are given them."""
    have = picture.shape[2]
    if have == channels:
        return picture
    if have == 1:
        return np.repeat(picture, channels, axis=2)
    if have == 2 and channels == 3:
        return picture[..., [0, 1, 0]]
    raise FormatError(f"cannot make {channels} channels of a picture of {have}")


#: nnU-Net's channel name that normalises by the dataset's own intensities (its
#: ``CTNormalization``) instead of per case.
CT = "CT"


def parse_channel_names(text: str, field: str = "--channel-names") -> tuple[str, ...]:
    """``export --channel-names NAME[,NAME...]``: the names, in channel order (none for
    ""); a refusal names ``field`` (the GUI's own)."""
    if not text.strip():
        return ()
    names = tuple(n.strip() for n in text.split(","))
    if not all(names):
        raise FormatError(
            f"{field} {text!r}: a name is empty; give one name per channel, "
            "separated by commas (e.g. CT, or T2,ADC)"
        )
    return names


def channel_names(channels: int, choice: Sequence[int]) -> dict[str, str]:
    """dataset.json's ``channel_names`` when the export names none and the cases are not
    CT (names that pick no special normalisation: every channel is z-scored per case,
    nnU-Net's rule for all but CT)."""
    if choice and len(choice) == channels:
        return {str(i): f"channel {describe([c])}" for i, c in enumerate(choice)}
    if channels == 1:
        return {"0": "grey"}
    if channels == 3:
        return {"0": "R", "1": "G", "2": "B"}
    return {str(i): f"channel {i + 1}" for i in range(channels)}


def source_names(source: Sequence[str], channels: int, choice: Sequence[int]) -> tuple[str, ...]:
    """dataset.json's ``channel_names`` taken from the nnU-Net dataset the pictures came
    from (``source``: its names of the pictures' channels, in order), for the
    ``channels`` written: those ``choice`` picks (a Channel Choice, or every channel),
    else the first ones; none when they do not name exactly the channels written (a
    grey picture repeated into three, a choice past the names)."""
    if not source:
        return ()
    if choice:
        picked = tuple(source[c] for c in choice if 0 <= c < len(source))
        return picked if len(picked) == len(choice) == channels else ()
    return tuple(source) if len(source) == channels else ()


def _png_holds(picture: np.ndarray) -> bool:
    return picture.dtype in (np.uint8, np.uint16)


def _finite(picture: np.ndarray) -> tuple[np.ndarray, bool]:
    """``picture`` with NaN and infinite values (nnU-Net refuses them) as its lowest
    finite value; whether there were any."""
    if picture.dtype.kind != "f":
        return picture, False
    bad = ~np.isfinite(picture)
    if not bad.any():
        return picture, False
    fine = picture[~bad]
    out = picture.copy()
    out[bad] = fine.min() if fine.size else 0
    return out, True


def _kind(dtype: np.dtype) -> str:
    """``"32-bit float"``, ``"16-bit signed"``... (what PNG cannot hold)."""
    if dtype.kind == "b":
        return "1-bit"
    kind = {"f": "float", "i": "signed", "u": "unsigned"}.get(dtype.kind, str(dtype))
    return f"{dtype.itemsize * 8}-bit {kind}"


def _png(picture: np.ndarray) -> bytes:
    """Lossless PNG of a grey or RGB picture (8 or 16 bit)."""
    if picture.ndim == 2:
        return encode_png(picture)
    import cv2

    ok, buf = cv2.imencode(
        ".png", np.ascontiguousarray(picture[..., ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 1]
    )
    if not ok:
        raise FormatError("could not encode a PNG picture")
    return buf.tobytes()


@dataclass
class _Survey:
    """What the first pass found: the dataset's channel count and ending, and counts for
    the summary."""

    channels: int = 1
    png: bool = True
    #: Every picture is 8-bit: three channels can be one RGB PNG (skimage, which
    #: nnU-Net's NaturalImage2DIO reads with, makes a 16-bit RGB PNG 8-bit).
    eight_bit: bool = True
    not_png: dict[str, int] = field(default_factory=dict)
    more_channels: int = 0
    grey_among_colour: int = 0
    #: The channels written: the Channel Choice, or every channel (:func:`every_channel`).
    choice: tuple[int, ...] = ()


def every_channel(totals: Sequence[int], choice: Sequence[int]) -> tuple[int, ...]:
    """The channels written of cases of ``totals`` channels each: the Channel Choice;
    with none, every channel when every case has the same number of them, more than the
    three a model takes (a multi-modal scan: BraTS' four MRI sequences, each a file of
    its case, which nnU-Net trains on together); else none (the first three)."""
    if choice:
        return tuple(choice)
    counts = set(totals)
    if len(counts) == 1 and (n := counts.pop()) > 3:
        return tuple(range(n))
    return ()


def _survey(cases: Sequence[_Case], choice: Sequence[int]) -> _Survey:
    survey = _Survey()
    counts: list[int] = []
    totals: list[int] = []
    for case in cases:
        picture = case.first_picture()
        if picture is None:
            raise FormatError(f"{case.name}: none of the stack's slice files is there")
        used = trained_channels(picture, choice)
        counts.append(used.shape[2])
        totals.append(1 if picture.ndim == 2 else picture.shape[2])
        survey.eight_bit &= picture.dtype == np.uint8
        if case.stack is None and not _png_holds(picture):  # (a stack is NIfTI anyway)
            kind = _kind(picture.dtype)
            survey.not_png[kind] = survey.not_png.get(kind, 0) + 1
    survey.choice = every_channel(totals, choice)
    if survey.choice != tuple(choice):  # every channel of every case
        counts = totals
    survey.more_channels = sum(t > c for t, c in zip(totals, counts, strict=True))
    survey.channels = max(counts, default=1)
    survey.grey_among_colour = sum(1 for c in counts if c < survey.channels)
    survey.png = not survey.not_png and all(c.stack is None for c in cases)
    return survey


# --- the writer ------------------------------------------------------------------------


def write_nnunet(
    out: Path,
    dataset: ExportDataset,
    options: ExportOptions = DEFAULT_EXPORT,
    progress: Progress | None = None,
) -> WriteResult:
    labels = nnunet_labels(dataset.names, dataset.void, dataset.unlabelled)
    cases = _cases(dataset)
    choice = dataset.channel_choice
    survey = _survey(cases, choice)
    given = options.channel_names
    if given and len(given) != survey.channels:
        how = options.channel_names_how
        field = "--channel-names" if how == CHANNEL_NAMES_HOW else how
        raise FormatError(
            f"{field} gives {len(given)} name(s) and every case has "
            f"{survey.channels} channel(s) written: give {survey.channels}, in channel order"
        )
    ending = PNG if survey.png else NIFTI
    folder = OutputFolder(out)
    choice = survey.choice
    writer = _Writer(folder, labels, survey.channels, ending, choice)
    writer.channels_how = options.channel_choice_how
    writer.geometries, writer.not_kept = volume_geometries(cases)
    writer.rgb = ending == PNG and survey.channels == 3 and survey.eight_bit
    for i, case in enumerate(cases):
        if progress:
            progress(i, len(cases), case.name)
        writer.write(case)
    training = sum(1 for c in cases if c.training)
    source, named_in = dataset.source_channels
    theirs = () if given else source_names(source, survey.channels, choice)
    ct = (
        not given
        and not theirs
        and survey.channels == 1
        and all(c.name in writer.ct for c in cases)
    )
    names = (
        {str(i): n for i, n in enumerate(given or theirs)}
        if given or theirs
        else {"0": CT}
        if ct
        else channel_names(survey.channels, choice)
    )
    doc: dict[str, object] = {
        "channel_names": names,
        "labels": {**labels.names, **({IGNORE: labels.ignore} if writer.ignored else {})},
        "numTraining": training,
        "file_ending": ending,
        "overwrite_image_reader_writer": READERS[ending],
    }
    if labels.renamed:
        doc["renamed_labels"] = labels.renamed
    folder.write_text("dataset.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    notes = _notes(cases, survey, labels, writer, dataset, options)
    if theirs:
        notes.append(
            f"channel_names as the source nnU-Net dataset named them ({', '.join(theirs)}: "
            f"{named_in or 'its dataset.json'}); name them otherwise with "
            f"{options.channel_names_how}"
        )
    if ct:
        notes.append(
            f"channel 0 named {CT} in dataset.json: every case is a NIfTI scan whose values "
            f"look like Hounsfield units (air, {AIR_AT_MOST:g} or below), so nnU-Net "
            "normalises it by the dataset's CT intensities, not per case; name it otherwise "
            f"with {options.channel_names_how}"
        )
    return folder.result(notes)


def volume_geometries(
    cases: Sequence[_Case],
) -> tuple[dict[str, VolumeGeometry], list[str]]:
    """The geometry of each volume case, and the summary's lines on voxel sizes not kept
    (none when every one is).

    A stack split from a NIfTI scan keeps its own space, always: its affine and voxel
    order are the scan's, not a guess, and its labels must lie on it. The voxel sizes a
    TIFF stack recorded (it has no space of its own) are another matter: nnU-Net
    resamples every case to one spacing, read in mm (SimpleITK converts a NIfTI's micron
    to mm), so a case of unknown size (a picture, a stack that recorded none, one in
    another unit) would be scaled against the measured ones by up to a thousand times.
    So the TIFF stacks' sizes are kept only when every case but the scans is a measured
    TIFF stack and all share one unit; otherwise those stacks have voxels of 1, as the
    pictures have. Pictures stay 2-D cases of voxels of 1 whatever the scans are."""
    own = {c.name: c.stack.load_geometry() for c in cases if c.stack is not None}
    scans = sum(1 for g in own.values() if g.scan)
    others = len(cases) - scans  # pictures and TIFF stacks
    measured = [g for g in own.values() if g.measured and not g.scan]
    lines: list[str] = []
    if measured and (len(measured) < others or len({g.unit for g in measured}) > 1):
        own = {
            n: g
            if g.scan or not g.measured
            else VolumeGeometry.unmeasured(f"{g.source}, {g.describe()}: not kept")
            for n, g in own.items()
        }
        why = (
            "some cases are pictures or stacks of no recorded size"
            if len(measured) < others
            else "the stacks recorded them in different units"
        )
        lines.append(
            f"voxel sizes recorded by {len(measured)} TIFF stack(s) not kept (their cases "
            f"have voxels of 1 x 1 x 1): {why}, and nnU-Net resamples all cases to one "
            "spacing" + (f"; the {scans} NIfTI scan(s) keep their own" if scans else "")
        )
    unsized = len(cases) - sum(1 for g in own.values() if g.measured)
    if scans and unsized:
        lines.append(
            f"the {scans} NIfTI scan(s) keep their own space and voxel sizes beside "
            f"{unsized} case(s) of voxels of 1 x 1 x 1 (pictures, stacks of no size kept): "
            "nnU-Net resamples every case to one spacing, so export the scans apart to "
            "train on them alone"
        )
    return own, lines


class _Writer:
    """Writes each case's channel files and label file, and counts for the summary."""

    def __init__(
        self,
        folder: OutputFolder,
        labels: Labels,
        channels: int,
        ending: str,
        choice: Sequence[int],
    ) -> None:
        self.folder = folder
        self.labels = labels
        self.channels = channels
        self.ending = ending
        self.choice = choice
        #: Three channels as one RGB PNG (else one file per channel).
        self.rgb = False
        #: Cases whose labels hold the ignore label.
        self.ignored = 0
        self.not_finite = 0
        self.missing_slices = 0
        #: The geometry each volume is written with (:func:`volume_geometries`).
        self.geometries: dict[str, VolumeGeometry] = {}
        #: The summary's lines on voxel sizes not kept (none: none dropped).
        self.not_kept: list[str] = []
        #: The volume cases that look like CT (Hounsfield units: ``looks_like_ct``).
        self.ct: set[str] = set()
        #: (stack case, slices, slices exported, geometry) of each volume written.
        self.volumes: list[tuple[str, int, int, VolumeGeometry]] = []
        #: How a refusal tells to choose channels (``ExportOptions.channel_choice_how``).
        self.channels_how = CHANNEL_CHOICE_HOW

    def _channels(self, picture: np.ndarray, case: _Case) -> np.ndarray:
        picture, bad = _finite(picture)
        self.not_finite += bad
        try:
            return fit_channels(trained_channels(picture, self.choice), self.channels)
        except FormatError as exc:  # (a picture lacking channels the others have)
            how = self.channels_how
            command = "'annotator channels P --use ...'" if how == CHANNEL_CHOICE_HOW else how
            raise FormatError(
                f"{case.name}: {exc}; export the pictures of fewer channels apart, or "
                f"choose channels every picture has ({command})"
            ) from None

    def _labels(self, sample: ExportSample, shape: tuple[int, ...]) -> np.ndarray:
        mask = sample.load_mask()
        if mask.shape != shape[:2]:
            raise FormatError(
                f"{sample.name or sample.stem}: its label map is {mask.shape[1]}x"
                f"{mask.shape[0]}, its picture {shape[1]}x{shape[0]}"
            )
        return self.labels.of(mask)

    def write(self, case: _Case) -> None:
        images = "imagesTr" if case.training else "imagesTs"
        label_folder = "labelsTr" if case.training else "labelsTs"
        if case.stack is None:
            picture = self._channels(_picture(case.samples[0]), case)
            values = self._labels(case.samples[0], picture.shape)
            channel_files = self._plane_files(picture)
            label_file = (
                encode_png(values)
                if self.ending == PNG
                else nifti_bytes([values], UNIT_VOXELS, planar=True)
            )
            ignored = bool(np.any(values == self.labels.ignore))
        else:
            channel_files, ignored, label_file = self._volume(case)
        self.ignored += ignored
        for c, data in enumerate(channel_files):
            self.folder.write_bytes(f"{images}/{case.name}_{c:04d}{self.ending}", data)
        self.folder.write_bytes(f"{label_folder}/{case.name}{self.ending}", label_file)

    def _plane_files(self, picture: np.ndarray) -> list[bytes]:
        if self.ending == NIFTI:
            return [
                nifti_bytes([picture[..., c]], UNIT_VOXELS, planar=True)
                for c in range(self.channels)
            ]
        if self.rgb:  # one RGB PNG, as nnU-Net's example writes colour
            return [_png(picture)]
        return [_png(np.ascontiguousarray(picture[..., c])) for c in range(self.channels)]

    def _volume(self, case: _Case) -> tuple[list[bytes], bool, bytes]:
        """The channel files and the label file of a stack's volume, and whether its
        labels hold the ignore label."""
        assert case.stack is not None
        by_index = {s.stack.index: s for s in case.samples if s.stack is not None}
        loads = case.stack.load_slices
        first = case.first_picture()
        assert first is not None  # (checked by the survey)
        blank = np.zeros_like(self._channels(first, case))
        pictures: list[np.ndarray] = []
        values: list[np.ndarray] = []
        lowest = np.inf
        for index, load in enumerate(loads):
            if load is None:
                self.missing_slices += 1
                picture = blank
            else:
                raw = load()
                finite = finite_values(raw)
                if finite.size:
                    lowest = min(lowest, float(finite.min()))
                picture = self._channels(raw, case)
            pictures.append(picture)
            sample = by_index.get(index)
            values.append(
                self._labels(sample, picture.shape)
                if sample is not None
                else np.full(picture.shape[:2], self.labels.ignore, self.labels.dtype)
            )
        geometry = self.geometries[case.name]
        self.volumes.append((case.name, len(loads), len(by_index), geometry))
        if geometry.scan and looks_like_ct(first, lowest):
            self.ct.add(case.name)
        channel_files = [
            nifti_bytes([p[..., c] for p in pictures], geometry) for c in range(self.channels)
        ]
        ignored = any(bool(np.any(v == self.labels.ignore)) for v in values)
        return channel_files, ignored, nifti_bytes(values, geometry)


def _notes(
    cases: Sequence[_Case],
    survey: _Survey,
    labels: Labels,
    writer: _Writer,
    dataset: ExportDataset,
    options: ExportOptions,
) -> list[str]:
    training = sum(1 for c in cases if c.training)
    volumes = sum(1 for c in cases if c.stack is not None)
    tested = len(cases) - training
    lines = [
        f"{len(cases)} nnU-Net case(s)"
        + (f", {volumes} of them 3-D (stacks)" if volumes else "")
        + f": {training} in imagesTr (train and val together: nnU-Net makes its own "
        "cross-validation)"
        + (f", {tested} in imagesTs with their labels in labelsTs" if tested else "")
    ]
    if not survey.png:
        why = []
        if volumes:
            why.append(f"{volumes} stack(s) are 3-D cases")
        if survey.not_png:
            kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(survey.not_png.items()))
            why.append(f"PNG cannot hold the {kinds} picture(s)")
        lines.append(
            "every case is NIfTI (.nii.gz), since nnU-Net takes one file ending: " + "; ".join(why)
        )
        if 0 < volumes < len(cases):
            lines.append(
                f"the dataset mixes pictures ({len(cases) - volumes}, 2-D) and stacks "
                f"({volumes}, 3-D): train nnU-Net's 2d configuration (its 3d ones need "
                "volumes only)"
            )
    if writer.volumes:
        shown = [
            f"{name}: {planes} slices, {labelled} exported, "
            + ("the scan's own space and voxel order, " if g.scan else "")
            + f"voxel size {g.describe()} ({g.source or 'none recorded'})"
            for name, planes, labelled, g in writer.volumes[:3]
        ]
        more = len(writer.volumes) - len(shown)
        lines.append(
            "stacks as volumes (slices not exported are the ignore label): "
            + "; ".join(shown)
            + (f"; and {more} more" if more else "")
        )
    lines.extend(writer.not_kept)
    apart = [c for c in cases if _APART.search(c.name)]
    if apart:
        shown = [f"{c.name} is {_origin(c, writer)}" for c in apart[:3]]
        more = len(apart) - len(shown)
        lines.append(
            f"{len(apart)} case(s) named apart from another of the same name (~2, ~3...): "
            + "; ".join(shown)
            + (f"; and {more} more" if more else "")
        )
    if writer.ignored:
        lines.append(
            f"unlabelled and void pixels are nnU-Net's ignore label {labels.ignore} (in "
            f"{writer.ignored} case(s)), which it leaves out of training"
        )
    lines.extend(labels.notes(dataset.names))
    if survey.grey_among_colour:
        lines.append(
            f"{survey.grey_among_colour} case(s) of fewer channels written with "
            f"{survey.channels}, as models take them (grey repeated), since nnU-Net needs "
            "the same channels in every case"
        )
    cli = options.channel_choice_how == CHANNEL_CHOICE_HOW
    if survey.choice and not dataset.channel_choice:
        lines.append(
            f"every case's {survey.channels} channels written (_0000 to "
            f"_{survey.channels - 1:04d}); the project's models take the first three, or "
            + (
                f"those `annotator channels {PROJECT} --use` chooses (all of them: --use "
                f"{describe(range(survey.channels))})"
                if cli
                else f"those {options.channel_choice_how} chooses (all of them: three shown "
                'and the others ticked under "Models also take")'
            )
        )
    if survey.more_channels:
        chosen = dataset.channel_choice
        lines.append(
            f"{survey.more_channels} case(s) have more channels than the {survey.channels} "
            + (
                f"written (the Channel Choice {describe(chosen)})"
                if chosen
                else "written (the first three, as models take them); choose others with "
                + (
                    f"`annotator channels {PROJECT} --use 4,3,2`"
                    if cli
                    else options.channel_choice_how
                )
            )
        )
    if writer.not_finite:
        lines.append(
            f"{writer.not_finite} picture(s) have NaN or infinite pixels, which nnU-Net "
            "refuses: written as the picture's lowest value"
        )
    if writer.missing_slices:
        lines.append(
            f"{writer.missing_slices} slice file(s) of stacks are gone from the project: "
            "black in their volume, the ignore label"
        )
    if 0 < training < FOLDS:
        lines.append(
            f"nnU-Net's {FOLDS}-fold cross-validation needs {FOLDS} training cases, this "
            f"has {training}: train with fold 'all' (nnUNetv2_train ID "
            f"{'3d_fullres' if volumes == len(cases) else '2d'} all)"
        )
    if options.image_mode != "copy":
        lines.append(
            f"--images {options.image_mode} does nothing for nnunet: the pictures are "
            "written as PNG or NIfTI files"
        )
    return lines


def _origin(case: _Case, writer: _Writer) -> str:
    """What a case was made of, for the summary: the scan's file (``imagesTs/liver_0000
    .nii.gz``), the stack's name, the picture's."""
    if case.stack is None:
        sample = case.samples[0]
        return f"the picture {sample.name or sample.image_path.name}"
    geometry = writer.geometries.get(case.name)
    if geometry is not None and geometry.scan:
        return f"the stack {case.stack.name}, {geometry.source}"
    return f"the stack {case.stack.name}"


def placement_notes(folder_name: str) -> list[str]:
    """The summary's lines on where the export goes for nnU-Net (the service's: it knows
    OUT's name): into ``$nnUNet_raw``, and a warning when nnU-Net would not find a
    folder of that name there."""
    match = re.fullmatch(r"Dataset(\d{3})_\w+", folder_name)
    number = match.group(1) if match else "NNN"
    lines = [
        f"for nnU-Net: move {folder_name} into $nnUNet_raw (as a folder DatasetNNN_Name), "
        f"then run nnUNetv2_plan_and_preprocess -d {number} --verify_dataset_integrity"
    ]
    problem = dataset_name_problem(folder_name)
    return lines + ([f"warning: {problem}"] if problem else [])
