"""Which mask file belongs to which picture, when their names are not the same.

Datasets name the mask of ``cell_012.png`` in many ways: ``cell_012.png`` in a folder of
its own (ISBI, CamVid as shipped here, an Annotator export), but also
``cell_012_mask.png``, ``cell_012_label.png``, ``0001TP_006690_L.png`` (CamVid's own),
``aachen_000000_000019_gtFine_labelIds.png`` beside ``..._leftImg8bit.png``
(Cityscapes), ``train-labels.tif`` beside ``train-volume.tif`` (ISBI 2012's own files). A file's **pair base** is its stem without one such ending, in any case.
A mask whose stem is no picture's is matched to the picture of the same pair base, when
that base names exactly one picture and one mask.

Files written for many images (an export, a folder of predictions) get names of their
own: :func:`unique_stems` makes them unique, short enough for any suffix, and never equal
to another image's real stem.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePath
from typing import TypeVar

#: Endings that say a file is the picture of a pair (compared in lower case): EM
#: challenges ship ``train-volume.tif`` or ``train-input.tif`` beside
#: ``train-labels.tif`` (ISBI 2012, SNEMI3D), others ``x_raw.tif`` or ``x_image.png``,
#: satellite sets ``119_sat.jpg`` (DeepGlobe) or ``top_2_10_RGB.tif`` (ISPRS Potsdam),
#: nnU-Net ``imagesTr/case_0000.nii.gz`` (its first channel) beside ``labelsTr/case.nii.gz``.
PICTURE_ENDINGS = (
    "_leftimg8bit",
    "_0000",
    "_sat",
    "_rgb",
    "-volume",
    "_volume",
    "-images",
    "_images",
    "-image",
    "_image",
    "-input",
    "_input",
    "-raw",
    "_raw",
    "-img",
    "_img",
)

#: Endings that say a file is the mask of a pair (compared in lower case):
#: ``x_mask.png``, ``train-labels.tif``, EPFL's ``training_groundtruth.tif``.
_MASK_SIDE_ENDINGS = (
    "_gtfine_labelids",
    "_gtfine_labeltrainids",
    "_labeltrainids",
    "_labelids",
    "_segmentation",
    "_groundtruth",
    "-groundtruth",
    "_annotations",
    "_annotation",
    "_labels",
    "-labels",
    "_label",
    "-label",
    "_masks",
    "-masks",
    "_mask",
    "-mask",
    "_seg",
    "_gt",
    "-gt",
    "_l",
    "_p",
)

#: Endings that say which file of a pair a file is (compared in lower case); the longest
#: that fits is taken off, once.
PAIR_ENDINGS = _MASK_SIDE_ENDINGS + PICTURE_ENDINGS

#: Cityscapes' colour and instance files beside its class-id masks: not class ids.
SIDECAR_ENDINGS = ("_gtfine_color", "_gtfine_instanceids")
#: Endings that make a file the mask (or a sidecar of it) of the picture of its pair
#: base, never a picture to label: the picture-side endings are left out.
MASK_ENDINGS = _MASK_SIDE_ENDINGS + SIDECAR_ENDINGS

#: Folders that datasets keep their masks in, beside a folder of the pictures (compared
#: in lower case): ISBI's ``labels/``, ADE20K's ``annotations/``, VOC's
#: ``SegmentationClass/``, CamVid's (SegNet's) ``trainannot/`` (datumaro's and CVAT's
#: "CamVid 1.0" export: ``defaultannot/``), Cityscapes' ``gtFine/``, nnU-Net's and the
#: Medical Segmentation Decathlon's ``labelsTr/``.
MASK_FOLDERS = (
    "labels",
    "label",
    "labelstr",
    "labelsts",
    "masks",
    "mask",
    "annotations",
    "annotation",
    "gt",
    "groundtruth",
    "ground_truth",
    "segmentations",
    "segmentation",
    "segmentationclass",
    "segmentationclassaug",
    "segmentationobject",
    "gtfine",
    "gtcoarse",
    "trainannot",
    "valannot",
    "testannot",
    "validationannot",
    "defaultannot",
)

#: Folders that datasets keep their pictures in, beside a mask folder (lower case).
PICTURE_FOLDERS = (
    "images",
    "image",
    "imagestr",
    "imagests",
    "imgs",
    "img",
    "jpegimages",
    "leftimg8bit",
    "pictures",
    "photos",
    "frames",
    "raw",
)

#: The ending of SegNet's mask folders, named after the folder of their pictures: its
#: CamVid's ``trainannot/`` holds the masks of ``train/`` (compared in lower case).
_SPLIT_MASKS_ENDING = "annot"


def split_of_masks(mask_folder: str) -> str | None:
    """The folder (in lower case) whose pictures a mask folder named as SegNet's holds
    the masks of: ``train`` of ``trainannot`` (or ``TrainAnnot``); None for any other
    folder (``labels``, ``annot``)."""
    low = mask_folder.lower()
    if low in MASK_FOLDERS and low.endswith(_SPLIT_MASKS_ENDING):
        return low[: -len(_SPLIT_MASKS_ENDING)]
    return None


def holds_pictures_of(folder: str, mask_folder: str) -> bool:
    """Whether a folder named ``folder``, beside a mask folder named ``mask_folder``, is
    one the masks' pictures may be in: a picture folder (:data:`PICTURE_FOLDERS`), or
    the folder a SegNet mask folder is named after (``train/`` beside ``trainannot/``)."""
    low = folder.lower()
    return low in PICTURE_FOLDERS or low == split_of_masks(mask_folder)


T = TypeVar("T")
U = TypeVar("U")
P = TypeVar("P", bound=PurePath)


def natural_key(text: str) -> list[str | int]:
    """Sort key that orders the numbers in ``text`` as numbers: ``2.png`` before
    ``10.png``, as a series of slices or time points is meant to be read (Fiji's image
    sequences do the same). Strings and numbers alternate, starting with a string, so
    two keys always compare."""
    # isdecimal, not isdigit: "²" is a digit that int() refuses
    return [int(t) if t.isdecimal() else t for t in re.split(r"(\d+)", text)]


def natural_path_key(path: PurePath) -> tuple[list[str | int], ...]:
    """:func:`natural_key` of each part of ``path``: folders first, then the name."""
    return tuple(natural_key(part) for part in path.parts)


def file_stem(path: PurePath) -> str:
    """A file's name less its type: its stem, less ``.nii`` too for a gzipped NIfTI
    volume (``case_0000`` of ``case_0000.nii.gz``)."""
    stem = path.stem
    if path.name.lower().endswith(".nii.gz") and len(stem) > len(".nii"):
        return stem[: -len(".nii")]
    return stem


def mask_ending(stem: str) -> str | None:
    """The longest of :data:`MASK_ENDINGS` that ``stem`` ends with (any case), if any."""
    return next((e for e in sorted(MASK_ENDINGS, key=len, reverse=True) if _ends(stem, e)), None)


def without_mask_ending(stem: str) -> str:
    """``stem`` (its case kept) without the mask ending it has, if any: the name of the
    picture a mask names (``train`` of ``train-labels``; ``em_raw`` stays ``em_raw``,
    whose ending is a picture's)."""
    ending = mask_ending(stem)
    return stem if ending is None else stem[: -len(ending)]


def masks_beside(stems: Sequence[str]) -> dict[int, int]:
    """Among the files of one add (their stems), those that are the mask of another:
    index of the mask -> index of its picture. A mask ends in one of
    :data:`MASK_ENDINGS`, and a picture's stem, or its pair base, is what is left
    (``x_mask`` of ``x``; ``x_gtFine_labelIds`` of ``x_leftImg8bit``)."""
    ending_of = {i: mask_ending(s) for i, s in enumerate(stems)}
    pictures: dict[str, int] = {}
    for i, s in enumerate(stems):
        if ending_of[i] is None:
            pictures.setdefault(s.lower(), i)
            pictures.setdefault(pair_base(s), i)
    whole: dict[str, int] = {}  # any file by its whole stem: scene-gt of scene-gt_mask
    for i, s in enumerate(stems):
        whole.setdefault(s.lower(), i)
    found: dict[int, int] = {}
    for i, s in enumerate(stems):
        e = ending_of[i]
        if e is None:
            continue
        rest = s.lower()[: -len(e)]
        j = pictures.get(rest, whole.get(rest))
        if j is not None and j != i:
            found[i] = j
    # A file that is another's picture is no mask itself (scene-gt.png, scene-gt_mask.png)
    return {i: j for i, j in found.items() if i not in found.values()}


def label_stacks_of_slices(stems: Sequence[str]) -> dict[int, int]:
    """Among the files of one add (their stems), those named as the stack other files
    are the slices of (``vol`` beside ``vol_z000``...: an export's ``stacks/vol.tif``
    beside ``images/vol_z000.tif``): index of the stack -> index of its first slice.
    Such a file may be the slices' label stack; its pixels decide."""
    first_slice: dict[str, int] = {}
    for i, s in enumerate(stems):
        if (m := _FIRST_SLICE.fullmatch(s)) is not None:
            first_slice.setdefault(stack_stem(m.group(1)).lower(), i)
    found: dict[int, int] = {}
    for i, s in enumerate(stems):
        j = first_slice.get(stack_stem(s).lower())
        if j is not None and j != i:
            found[i] = j
    return found


#: The stem of a stack's first slice (:func:`slice_stems`): ``vol_z000``.
_FIRST_SLICE = re.compile(r"(.+)_z0{3,}", re.IGNORECASE)


def masks_in_mask_folders(paths: Sequence[PurePath]) -> dict[int, int]:
    """Among the files of one add (their paths, all absolute or all relative to one
    folder), those in a mask folder that may be the mask of a picture outside one:
    index of the mask -> index of its picture.

    A file is in a mask folder when a folder between it and the folder holding all the
    files is named one of :data:`MASK_FOLDERS` (``labels/0.png`` beside ``images/0.png``,
    ``SegmentationClass/x.png`` of ``JPEGImages/x.jpg``, ``annotations/training/x.png``):
    so the files of one such folder added alone are none. Its picture is a file outside
    such folders whose stem (or, without a mask ending, its pair base) is the mask's
    stem, or its stem without a mask ending; of several, the first in a folder named as the
    deepest of the mask's other folders that has one (``images/val/x.png`` for
    ``labels/val/x.png``, ``s1/images/x.png`` for ``s1/masks/x.png``; SegNet's
    ``train/x.png`` for ``trainannot/x.png``: :func:`split_of_masks`), else the first."""
    folders = [p.parent.parts for p in paths]
    common = _shared_depth(folders)
    below = [[f.lower() for f in parts[common:]] for parts in folders]
    in_mask_folder = [not set(names).isdisjoint(MASK_FOLDERS) for names in below]
    stems = [file_stem(p) for p in paths]
    pictures: dict[str, list[int]] = {}
    in_folder: dict[tuple[str, str], list[int]] = {}  # (key, a folder's name): pictures
    for i in range(len(paths)):
        if not in_mask_folder[i]:
            for key in picture_keys(stems[i]):
                pictures.setdefault(key, []).append(i)
                for name in dict.fromkeys(below[i]):
                    in_folder.setdefault((key, name), []).append(i)
    found: dict[int, int] = {}
    for i in range(len(paths)):
        if not in_mask_folder[i]:
            continue
        keys = mask_keys(stems[i])
        near = [pictures[key] for key in keys if key in pictures]  # each in order
        if not near:
            continue
        found[i] = min(js[0] for js in near)
        if sum(len(js) for js in near) > 1:  # (no list walked: 0.png in 10,000 folders)
            for name in reversed(below[i]):
                name = split_of_masks(name) or name  # train/x.png for trainannot/x.png
                same = [in_folder[key, name] for key in keys if (key, name) in in_folder]
                if same and name not in MASK_FOLDERS:
                    found[i] = min(js[0] for js in same)
                    break
    return found


def picture_keys(stem: str) -> tuple[str, ...]:
    """The names a picture is found by as the picture of a mask (lower case): its stem,
    and its pair base unless it is named as a mask itself (``images/scene-gt.png`` is
    ``masks/scene-gt.png``'s by its whole stem; ``x_leftImg8bit`` is ``x``'s too)."""
    low = file_key(stem)
    if mask_ending(stem) is not None:
        return (low,)
    return tuple(dict.fromkeys((low, pair_base(stem))))


def mask_keys(stem: str) -> tuple[str, ...]:
    """The names a mask looks for its picture by (lower case), in order: its stem, then
    its stem without its mask ending (``img0`` for ``img0_mask``): a picture whose
    :func:`picture_keys` hold one of them is the mask's."""
    return tuple(file_key(s) for s in mask_stems(stem))


def mask_stems(stem: str) -> tuple[str, ...]:
    """:func:`mask_keys` as spelled: a mask's stem, then its stem without its mask
    ending (``img0_Mask`` gives ``img0_Mask``, ``img0``)."""
    ending = mask_ending(stem)
    return (stem,) if ending is None else (stem, stem[: -len(ending)])


def _shared_depth(folders: Sequence[tuple[str, ...]]) -> int:
    """How many leading parts all ``folders`` share (the folder holding them all)."""
    common = min((len(parts) for parts in folders), default=0)
    while common and any(parts[:common] != folders[0][:common] for parts in folders):
        common -= 1
    return common


def mirrored(mask: PurePath, pictures: Sequence[PurePath]) -> int | None:
    """Which of ``pictures`` (files of the mask's stem) the mask file ``mask`` sits beside
    in the dataset's layout: the one whose folders, below the folder holding them all,
    are the mask's once mask and picture folder names are left out (``labels/val/0.png``
    is ``images/val/0.png``'s, not ``images/train/0.png``'s; ``s1/masks/x.png`` is
    ``s1/images/x.png``'s). ``None`` unless exactly one mirrors it whole: an export's
    ``train/masks/0.png`` is no project folder's, and ``A/labels/val/0.png`` is not
    ``B/images/val/0.png``'s."""
    parents = [mask.parent.parts, *(p.parent.parts for p in pictures)]
    common = _shared_depth(parents)

    def below(parts: tuple[str, ...]) -> list[str]:
        # SegNet's trainannot/ holds the masks of train/: the split is named by both
        names = [split_of_masks(n) or n.lower() for n in parts[common:]]
        return [n for n in names if n not in MASK_FOLDERS and n not in PICTURE_FOLDERS]

    own = below(parents[0])
    same = [i for i, parts in enumerate(parents[1:]) if below(parts) == own]
    return same[0] if len(same) == 1 else None


def _ends(stem: str, ending: str) -> bool:
    low = stem.lower()
    return low.endswith(ending) and len(low) > len(ending)


def pair_base(stem: str) -> str:
    """``stem`` in lower case (:func:`file_key`) without its pair ending, if it has one."""
    low = file_key(stem)
    for ending in sorted(PAIR_ENDINGS, key=len, reverse=True):
        if low.endswith(ending) and len(low) > len(ending):
            return low[: -len(ending)]
    return low


def pair_masks(images: Mapping[str, T], masks: Mapping[str, U]) -> dict[str, U]:
    """Each picture's mask, by picture stem: the mask of the same stem, else the one mask
    of the same pair base (when the base names one picture left and one mask left)."""
    paired = {stem: masks[stem] for stem in images if stem in masks}
    left_images = [s for s in images if s not in paired]
    left_masks = [s for s in masks if s not in images]
    used: set[str] = set()
    if not left_images or not left_masks:
        return paired
    by_base: dict[str, list[str]] = {}
    for stem in left_masks:
        by_base.setdefault(pair_base(stem), []).append(stem)
    # A mask's base is matched to a picture's whole stem first (t0_img_mask.png is
    # t0_img.png's), then to a picture's own base (x_gtFine_labelIds: x_leftImg8bit).
    for key in (file_key, pair_base):
        image_keys: dict[str, list[str]] = {}
        for stem in left_images:
            if stem not in paired:
                image_keys.setdefault(key(stem), []).append(stem)
        for base, stems in image_keys.items():
            found = [m for m in by_base.get(base, []) if m not in used]
            if len(stems) == 1 and len(found) == 1:
                paired[stems[0]] = masks[found[0]]
                used.add(found[0])
    return paired


#: The longest file name, in bytes, that common file systems take (ext4, NTFS, APFS).
NAME_MAX = 255
#: How a generated name is told apart: ``STEM~2``, ``STEM~3``... (an export, a prediction
#: folder, a second image of one name).
_GENERATED = re.compile(r"^(.+)~\d+$", re.S)


def fit_stem(stem: str, tail: str, limit: int) -> str:
    """``stem + tail``, the stem cut (at a whole character) so that it fits ``limit``
    bytes of UTF-8."""
    room = limit - len(tail.encode("utf-8", "surrogateescape"))
    kept, used = [], 0
    for char in stem:  # a byte no UTF-8 (an escaped surrogate) is one byte, and kept
        size = len(char.encode("utf-8", "surrogateescape"))
        if used + size > room:
            break
        kept.append(char)
        used += size
    return "".join(kept) + tail


def short_stem(stem: str, limit: int) -> str:
    """``stem`` when it fits ``limit`` bytes, else its start and ``~`` and 8 hex digits of
    its SHA-1: the same name gives the same stem every time, and two long names that
    start alike still differ."""
    if len(stem.encode("utf-8", "surrogateescape")) <= limit:
        return stem
    digest = hashlib.sha1(stem.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return fit_stem(stem, f"~{digest}", limit)


def generated_base(stem: str) -> str | None:
    """``a`` for ``a~2`` (a name :func:`unique_stems` may have made), else None."""
    found = _GENERATED.match(stem)
    return found.group(1) if found else None


def file_key(name: str, *, any_case: bool = True) -> str:
    """What two file names (or stems) are compared by where one may mean the other: any
    case (unless not ``any_case``), either Unicode form (macOS stores "é" decomposed, so
    the two spellings are one file there, and an annotation written elsewhere or a name
    typed spells it composed)."""
    name = unicodedata.normalize("NFC", name)
    return name.lower() if any_case else name


def unique_stems(
    stems: Sequence[tuple[int, str]],
    limit: int,
    reserved: Iterable[str] = (),
    own: Mapping[int, str] | None = None,
    reserved_real: Iterable[str] = (),
) -> dict[int, str]:
    """A file stem of at most ``limit`` bytes for each ``(key, stem)``, unique in any
    case: the stem itself (:func:`short_stem` when too long), else ``STEM~2``,
    ``STEM~3``... for the later ones, in the order given.

    A name made here never equals a real stem of ``stems`` or ``reserved``: a mask file
    ``a~2.png`` made for the second image of stem ``a`` would otherwise be read back as
    the labels of an image really called ``a~2.png``. ``own`` gives, by key, the real
    stem of the images whose stem given is one made for them (an export's safe stem:
    ``a_b`` for ``a b.png``): such a stem is theirs only where it is no other image's
    real stem, of ``stems`` or ``reserved_real`` (the real stems of other images; beside
    an image ``a_b.png``, ``a b.png`` gets ``a_b~2``)."""
    own = own or {}
    real = {file_key(own.get(k, s)) for k, s in stems} | {file_key(s) for s in reserved_real}
    given = real | {file_key(s) for _, s in stems} | {file_key(s) for s in reserved}

    def free(name: str, stem: str, mine: str) -> bool:
        if file_key(name, any_case=False) == file_key(mine, any_case=False):
            return True  # (its own stem, in either Unicode form: café.png named on macOS)
        return file_key(name) not in (real if name == stem else given)

    taken: set[str] = set()
    out: dict[int, str] = {}
    for key, stem in stems:
        base = short_stem(stem, limit)
        name, n = base, 2
        while file_key(name) in taken or not free(name, stem, own.get(key, stem)):
            name, n = fit_stem(base, f"~{n}", limit), n + 1
        taken.add(file_key(name))
        out[key] = name
    return out


#: The folders of nnU-Net's raw datasets that hold the cases' pictures, one file per
#: channel (``case_0000``, ``case_0001``...), in lower case.
NNUNET_PICTURE_FOLDERS = ("imagestr", "imagests")
_NNUNET_CHANNEL = re.compile(r"(.+)_(\d{4})$")


def _nnunet_channel_files(paths: Sequence[P]) -> list[tuple[P, tuple[PurePath, str, str], int]]:
    """The files among ``paths`` named as a channel of an nnU-Net case in nnU-Net's
    picture folders: each with its case (folder, case name, file type) and channel."""
    found = []
    for path in paths:
        if path.parent.name.lower() not in NNUNET_PICTURE_FOLDERS:
            continue
        match = _NNUNET_CHANNEL.fullmatch(file_stem(path))
        if match is None:
            continue
        kind = path.name[len(file_stem(path)) :].lower()
        case: tuple[PurePath, str, str] = (path.parent, match.group(1), kind)
        found.append((path, case, int(match.group(2))))
    return found


def nnunet_channel(path: PurePath) -> int | None:
    """Which input channel of an nnU-Net case a file's name says it is (``case_0001.png``:
    1), or None for a name of no channel. Only the name: see
    :data:`NNUNET_PICTURE_FOLDERS` for where such names mean channels."""
    match = _NNUNET_CHANNEL.fullmatch(file_stem(path))
    return None if match is None else int(match.group(2))


def nnunet_further_channels(paths: Sequence[P]) -> list[P]:
    """The files among ``paths`` that are a further channel of an nnU-Net case
    (``imagesTr/case_0001.nii.gz`` where ``case_0000.nii.gz`` of the same type lies
    beside it, among ``paths``), in their order. Only in nnU-Net's picture folders:
    ``frame_0001.png`` elsewhere is a frame of a series."""
    files = _nnunet_channel_files(paths)
    firsts = {case for _, case, channel in files if channel == 0}
    return [path for path, case, channel in files if channel and case in firsts]


def nnunet_cases(paths: Sequence[P]) -> dict[P, list[P]]:
    """nnU-Net's cases of several channel files among ``paths``: each case's first file
    (``imagesTr/case_0000.nii.gz``) and its further channels, in channel order, as far
    as they run on without a gap (``case_0001``, ``case_0002``... of the same type,
    beside it, among ``paths``). Cases of one file are left out; only in nnU-Net's
    picture folders, as :func:`nnunet_further_channels`."""
    channels: dict[tuple[PurePath, str, str], dict[int, P]] = {}
    for path, case, channel in _nnunet_channel_files(paths):
        channels.setdefault(case, {}).setdefault(channel, path)
    cases: dict[P, list[P]] = {}
    for found in channels.values():
        run, k = [], 1
        while k in found:
            run.append(found[k])
            k += 1
        if 0 in found and run:
            cases[found[0]] = run
    return cases


#: The longest name a stack's slices are named after: room is left in a file name for
#: ``~NN`` (another stack of that name), ``_z0000`` and ``.tif``.
STACK_STEM_BYTES = NAME_MAX - len("~99_z00000.tif")


def stack_stem(stem: str) -> str:
    """The name a stack's slices are named after: its file stem less an OME-TIFF's
    ``.ome`` (``vol.ome.tif`` gives ``vol_z000``, as ``vol.tif`` does), cut to
    :data:`STACK_STEM_BYTES` with :func:`short_stem` (a longer one could not be a slice
    file's name). Projects that split such a stack before this rule keep their
    ``vol.ome_z000`` names."""
    stem = stem[: -len(".ome")] if stem.lower().endswith(".ome") and len(stem) > 4 else stem
    return short_stem(stem, STACK_STEM_BYTES)


def slice_stems(stem: str, planes: int) -> list[str]:
    """The stems of a stack's slices, ``<stem>_z000``... (numbered from 0, as napari and
    numpy count planes; zero-padded to 3 digits, wider for longer stacks): the image
    names of a TIFF stack's slices and the names its label stack's slices match."""
    width = max(3, len(str(planes - 1)))
    return [f"{stem}_z{i:0{width}d}" for i in range(planes)]


def one_line(name: str) -> str:
    """``name`` as one line of a listing: a character that does not print (a newline, a
    tab) written as Python writes it in a string (``new\\nline.png``), as the messages
    that quote names show it."""
    if name.isprintable():
        return name
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)
