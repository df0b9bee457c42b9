"""Exchange commands: export a training set, import labels from other tools."""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from annotator.cli.options import UsageError, path_word, seed, split_shares
from annotator.cli.progress import ProgressLine
from annotator.core.errors import AnnotatorError

if TYPE_CHECKING:
    from annotator.services.exchange import ImportInterrupted, ImportReport

_EXPORT = ("voc", "masks", "coco", "labelme", "yolo", "nnunet")
_IMPORT = ("masks", "voc", "coco", "labelme", "yolo", "labelstudio")
# The import options each format reads; others would be ignored without a word.
_TAKES_LABELS = ("masks", "voc", "labelme")
_TAKES_BACKGROUND = ("labelme", "coco", "yolo", "labelstudio")
# The export formats that write objects: --leave-out and --keep-background are theirs.
_OBJECTS = ("coco", "yolo", "labelme")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write the labelled images as a training set (voc, masks, coco, labelme, yolo, "
        "nnunet)",
    )
    p.add_argument("project", type=Path)
    p.add_argument(
        "out",
        type=Path,
        help="output folder outside the project (must not exist or be empty, unless --overwrite)",
    )
    p.add_argument("--format", required=True, choices=_EXPORT, help="the training set's format")
    p.add_argument(
        "--split",
        type=split_shares,
        default="0.8,0.1,0.1",
        help="train,val,test shares, scaled to sum 1 (default 0.8,0.1,0.1; 8,1,1 is the same); "
        "the slices of a stack are kept in one split",
    )
    p.add_argument("--seed", type=seed, default=0, help="seed of the split (default 0)")
    p.add_argument(
        "--include",
        choices=("done", "all"),
        default="done",
        help="done images only (default), or all images that have a label map",
    )
    p.add_argument(
        "--images",
        choices=("copy", "hardlink", "symlink"),
        default="copy",
        help="how images are put next to the labels (default copy; nnunet writes them as "
        "PNG or NIfTI files)",
    )
    p.add_argument(
        "--coco-mode",
        choices=("polygon", "rle"),
        help="COCO segmentation: polygons (the default) or compressed RLE; iscrowd 0 in both",
    )
    p.add_argument(
        "--voc-images",
        choices=("jpg", "keep"),
        help="voc: what JPEGImages/ holds; jpg (the default): <name>.jpg, what VOC loaders "
        "read (torchvision, mmsegmentation): JPEG files copied as they are, other 8-bit grey "
        "or colour pictures written as JPEG (quality 95), pictures JPEG cannot hold "
        "(16-bit, 4 channels...) kept as they are; keep: every picture copied as it is",
    )
    p.add_argument(
        "--stacks",
        action="store_true",
        help="masks format: also write one label stack (a multi-page TIFF, as Fiji opens "
        "it) per TIFF stack the images were split from, page i the labels of slice i "
        "(<split>/stacks/<stack>.tif; slices not exported are unlabelled); of a NIfTI "
        "volume, a NIfTI label volume in its voxel order, with its affine "
        "(<split>/stacks/<stack>.nii.gz)",
    )
    p.add_argument(
        "--geotiff",
        action="store_true",
        help="masks format: write the mask of a GeoTIFF picture as a GeoTIFF "
        "(<stem>.tif, lossless, the picture's geo tags and so its CRS copied) instead of a "
        "PNG with a world file (<stem>.pgw, which has no CRS)",
    )
    p.add_argument(
        "--channel-names",
        metavar="NAME[,NAME...]",
        help="nnunet: dataset.json's channel_names, one per channel written, in order; "
        "nnU-Net normalises a channel named CT by the dataset's intensities and z-scores "
        "every other per case (default: CT when every case is a NIfTI scan in Hounsfield "
        "units, else grey, R,G,B or the chosen channels)",
    )
    p.add_argument(
        "--leave-out",
        metavar="CLASS[,CLASS...]",
        help="coco, yolo, labelme: classes (names or ids) written as no objects, their "
        "pixels left uncovered, besides the background class (class 0 named background, "
        "bg or _background_), which is left out too unless --keep-background (COCO "
        "category ids stay class id + 1, YOLO class indices the project's ids)",
    )
    p.add_argument(
        "--keep-background",
        action="store_true",
        help="coco, yolo, labelme: write the background class (class 0 named background, "
        "bg or _background_) as objects too, one covering each of its regions",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an OUT folder that holds files: the new export is written whole "
        "beside it first, and the old folder removed only once the new one is in its place "
        "(refused when OUT holds the project or its image files)",
    )
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser(
        "import", help="import label maps from masks, voc, coco, labelme, yolo or labelstudio"
    )
    p.add_argument("project", type=Path)
    p.add_argument("src", type=Path, help="file or folder to import")
    p.add_argument("--format", required=True, choices=_IMPORT, help="the format of SRC")
    p.add_argument(
        "--strict",
        action="store_true",
        help="stop if the source has classes the project lacks, instead of adding them",
    )
    p.add_argument(
        "--labels",
        type=Path,
        metavar="FILE",
        help="the source's class table (default: the one in SRC, if any): one class name "
        "per line (labelme's labels.txt, class_names.txt), an id list ('1 cytoplasm'), or "
        "a table with colours (CVAT labelmap.txt, CamVid label_colors.txt or "
        "class_dict.csv) to read colour-coded masks by colour; for masks, voc and labelme "
        "only (refused for coco, yolo and labelstudio, whose sources name their classes)",
    )
    p.add_argument(
        "--background",
        help="class for pixels no shape covers, or 'none' to leave them unlabelled (labelme "
        "default: the project's class named _background_ or background, else _background_ "
        "if a labels.txt in SRC (or given with --labels) lists it, else unlabelled)",
    )
    p.set_defaults(handler=cmd_import)


def cmd_export(args: argparse.Namespace) -> int:
    from annotator.formats.nnunet import parse_channel_names
    from annotator.services.exchange import (
        ExportRequest,
        export_project,
        options_refusal,
        parse_split,
    )
    from annotator.services.projects import open_project

    if args.coco_mode is not None and args.format != "coco":
        raise UsageError(f"--coco-mode is for a coco export, not {args.format}")
    if args.voc_images is not None and args.format != "voc":
        raise UsageError(f"--voc-images is for a voc export, not {args.format}")
    if args.channel_names is not None and args.format != "nnunet":
        raise UsageError(f"--channel-names is for an nnunet export, not {args.format}")
    if args.keep_background and args.format not in _OBJECTS:
        raise UsageError(
            f"--keep-background: a {args.format} export writes every class's pixels, the "
            "background's too; --keep-background is for " + ", ".join(_OBJECTS)
        )
    leave_out = None
    if args.leave_out is not None:
        leave_out = tuple(w.strip() for w in args.leave_out.split(",") if w.strip())
        if not leave_out:
            raise UsageError("--leave-out: give class names or ids, e.g. --leave-out background")
    request = ExportRequest(
        format=args.format,
        out=args.out,
        split=parse_split(args.split),
        seed=args.seed,
        include=args.include,
        image_mode=args.images,
        coco_mode=args.coco_mode or "polygon",
        stacks=args.stacks,
        voc_images=args.voc_images or "jpg",
        overwrite=args.overwrite,
        geotiff=args.geotiff,
        channel_names=parse_channel_names(args.channel_names or ""),
        leave_out=leave_out,
        keep_background=args.keep_background,
    )
    refusal = options_refusal(request)  # (--stacks with voc...: the command line's mistake)
    if refusal is not None:
        raise UsageError(refusal)
    if args.out.exists() and not args.out.is_dir():
        raise AnnotatorError(
            f"{args.out.absolute()}: is a file, not a folder; give a new or empty folder to "
            "export to"
        )
    with open_project(args.project, lock=False) as project:  # read-only: runs beside a writer
        report = export_project(project, request, progress=ProgressLine("exporting"))
    counts = ", ".join(f"{k}: {v}" for k, v in report.counts.items())
    print(f"exported {sum(report.counts.values())} image(s) as {report.format} to {report.out}")
    print(f"  splits: {counts}; {len(report.files)} file(s) written")
    given = [float(v) for v in args.split.split(",") if v.strip()]
    if abs(sum(given) - 1.0) > 1e-6:
        shares = ", ".join(f"{k} {v:.3g}" for k, v in zip(("train", "val", "test"), request.split))
        print(
            f"note: --split {args.split} does not sum to 1: read as shares ({shares})",
            file=sys.stderr,
        )
    for line in report.notes:
        print(f"  {line}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from annotator.cli import EXIT_INTERRUPTED
    from annotator.services.exchange import (
        ImportInterrupted,
        ImportRequest,
        import_headline,
        import_into_project,
        namesakes_summary,
        unlabelled_summary,
    )
    from annotator.services.projects import open_project

    if args.labels is not None and args.format not in _TAKES_LABELS:
        raise UsageError(
            f"--labels: a {args.format} source names its own classes; --labels is for "
            + ", ".join(_TAKES_LABELS)
        )
    if args.background is not None and args.format not in _TAKES_BACKGROUND:
        if args.background.strip().lower() == "none":
            # accepted (scripts pass it to every format), but never in silence: it is
            # easily taken for "value 0 is unlabelled", which no option of a masks import means
            print(
                f"note: --background none changes nothing in a {args.format} import: every "
                "pixel's class comes from its mask (its value, or its colour, read through "
                "the class table when there is one)",
                file=sys.stderr,
            )
        else:
            raise UsageError(
                f"--background: a {args.format} import takes every pixel's value from its "
                "masks (no shapes leave pixels uncovered); --background is for "
                + ", ".join(_TAKES_BACKGROUND)
            )
    request = ImportRequest(
        format=args.format,
        src=args.src,
        strict=args.strict,
        labels_file=args.labels,
        background=args.background,
    )
    progress = ProgressLine("importing")
    with open_project(args.project) as project:
        try:
            report = import_into_project(project, request, progress=progress)
        except ImportInterrupted as exc:  # the label maps saved so far stay (as an add's)
            progress.finish()
            print(f"annotator: {_interrupted(exc)}", file=sys.stderr)
            return EXIT_INTERRUPTED
    # as an add's: the first files skipped named, one line counting the rest, all with -v
    options = ["--strict"] if args.strict else []
    options += [] if args.background is None else ["--background", args.background]
    again = f"annotator -v import {path_word(args.project)} {path_word(args.src)} "
    again += shlex.join(["--format", args.format, *options])
    again += "" if args.labels is None else f" --labels {path_word(args.labels)}"
    for line in report.skipped_lines(every=getattr(args, "verbose", False), how=f"`{again}`"):
        print(line, file=sys.stderr)
    print(import_headline(report))
    if report.background:
        print(f"  {report.background}")
    if report.unlabelled:
        print(f"  {unlabelled_summary(report)}")
    if report.namesakes:
        print(f"  {namesakes_summary(report)}")
    if report.classes_added:
        print("  classes added: " + ", ".join(report.classes_added))
    if report.unknown_labels:
        print(
            "  unknown labels (shapes skipped, their pixels left unlabelled): "
            + ", ".join(f"{k!r} ({v})" for k, v in sorted(report.unknown_labels.items()))
        )
    if report.boxes_only:
        print(f"  left out {report.boxes_only} annotation(s) that are a box without a mask")
    for note in report.notes:
        print(f"  {note}")
    if report.skipped and not report.imported:  # (exit 1, with its error line)
        raise AnnotatorError(_nothing_imported(report, args.project))
    if report.skipped:
        print(f"{len(report.skipped)} item(s) skipped (reasons above)", file=sys.stderr)
        return 2
    return 0


def _nothing_imported(report: ImportReport, project: Path) -> str:
    """The error of an import that skipped every item: the reason most of them were
    skipped for (an example of it), and what to do when it is pictures not found."""
    from annotator.services.exchange import NO_IMAGE

    reasons = [why.removeprefix(f"{path}: ") for path, why in report.skipped]

    def kind(why: str) -> str:  # reasons alike but for their names and numbers: one kind
        return re.sub(r"'[^']*'|\d+", "", why)

    most, count = Counter(map(kind, reasons)).most_common(1)[0]
    example = next(why for why in reasons if kind(why) == most)
    n = len(report.skipped)
    what = "no labels imported" if report.added else "nothing imported"
    said = (
        f"{what}: its one item was skipped: {example}"
        if n == 1
        else f"{what}: all {n} item(s) were skipped, the first: {example}"
        if count == n
        else f"{what}: all {n} item(s) were skipped, {count} of them for reasons like: {example}"
    )
    if NO_IMAGE in example:
        add = f"annotator add {path_word(project)}"
        said += (
            f"; add the pictures first (`{add} FOLDER`), then import again, or check that "
            "the masks have their pictures' names"
        )
    return said


def _interrupted(exc: ImportInterrupted) -> str:
    """What an interrupted import says: what it did before, and how to finish it."""
    from annotator.cli import interrupts

    if exc.reading is not None:
        return (
            f"interrupted{interrupts.by()} while reading {path_word(exc.reading)}, before any "
            "mask was imported: the project is unchanged"
        )
    report, done = exc.report, len(exc.report.imported)
    what = [f"importing {done} of {exc.total} mask(s)"]
    if report.added:
        what.append(f"adding {len(report.added)} image(s)")
    if report.classes_added:
        what.append(f"adding the class(es) {', '.join(report.classes_added)}")
    kept = ", which stay in the project" if done or len(what) > 1 else ""
    again = "import the rest" if done else "import them"
    return (
        f"interrupted{interrupts.by()} after {', '.join(what)}{kept}; run the same "
        f"command again to {again}"
    )
