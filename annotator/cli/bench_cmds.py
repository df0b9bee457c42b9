"""``annotator bench``: the labelling-effort benchmark with a simulated annotator."""

from __future__ import annotations

import argparse
import shutil
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from annotator.cli.ml_cmds import add_accepted_border_option, add_zoom_option
from annotator.cli.options import (
    UsageError,
    architecture_name,
    bench_modes,
    bench_tools,
    network_depth,
    network_width,
    number,
    seed,
    whole_number,
)
from annotator.core.errors import AnnotatorError
from annotator.ml.networks import DEFAULT_ARCH

if TYPE_CHECKING:
    from collections.abc import Sequence

    from annotator.bench.effort import BenchConfig, RunResult


def register(sub: argparse._SubParsersAction) -> None:
    from annotator.bench.actions import SECONDS_PER_ACTION, TOOLS

    p = sub.add_parser(
        "bench",
        help="measure labelling effort with a simulated annotator (docs/simulated-annotator.md)",
        description="DATASET holds images/ and masks/ or labels/ (any letter case, image/ "
        "mask/ label/ too; class-id PNGs or TIFFs, ids 0..254, 255 = void, JPEG masks "
        "refused as lossy, masks of only 0 and 255 read "
        "as two classes; RGB masks whose channels are equal are grey), a mask named as its "
        "image or with an ending such as _mask, _label or _L; or pictures and masks side by "
        "side, the masks so named (x.png and x_mask.png; ISBI's train-volume.tif and "
        "train-labels.tif). Split folders are read together (train/images and train/masks, "
        "as `annotator export --format masks` writes them, or images/train and "
        "masks/train); such an export's classes are read from it, its void (254) and "
        "unlabelled (255) void. A TIFF stack (images/vol.tif) "
        "is one image per slice, named vol_z000.tif... as `annotator add` names them, "
        "labelled by a label stack of the same name (masks/vol.tif, page i = slice i) or "
        "by masks named vol_z000.png...; a NIfTI volume (.nii, .nii.gz) likewise, its slices "
        "shown as `annotator add` shows them, labelled by its label volume as the masks "
        "import pairs them (nnU-Net's and the Decathlon's imagesTr/ and labelsTr/, "
        "case_seg.nii.gz beside case.nii.gz); without --classes, their dataset.json "
        "names the classes. Colour-coded masks need --classes with a table of colours. "
        "Runs each --mode in turn and compares them. Within an image a progress "
        "line comes every 30 s; bench.json says whether each run is complete and, per "
        "class, the IoU of the final labels.",
    )
    p.add_argument("dataset", type=Path, metavar="DATASET")
    p.add_argument(
        "--classes",
        type=Path,
        metavar="FILE",
        help="class names (default: the class table in DATASET, classes.txt, "
        "class_names.txt, class_dict.csv..., as the masks import finds it, else nnU-Net's "
        "or the Decathlon's dataset.json labels, if any), one per line, in id order; or id lines ('1 cytoplasm', '1: x', "
        "'1,x'; ids from 1 read 0 as void; a '255 void' line is the void value); or a class "
        "table with colours (CVAT labelmap.txt, CamVid label_colors.txt or class_dict.csv) "
        "to read colour-coded masks by colour, as `annotator import --format masks` does",
    )
    p.add_argument(
        "--mode",
        type=bench_modes,
        default="assisted",
        help="assisted, manual, frozen, or a comma-separated list of them (default assisted)",
    )
    p.add_argument(
        "--strategy",
        default="uncertainty",
        choices=["uncertainty", "random", "in-order"],
        help="how the next image to label is picked (default uncertainty)",
    )
    budget = p.add_mutually_exclusive_group()
    budget.add_argument(
        "--train-steps",
        type=whole_number(1),
        metavar="N",
        help="training steps per round (deterministic)",
    )
    budget.add_argument(
        "--train-seconds",
        type=number(above=0),
        metavar="S",
        help="seconds per training round (default 30)",
    )
    p.add_argument(
        "--target",
        type=number(above=0, most=1),
        default=0.95,
        help="pixel accuracy to reach (0.95)",
    )
    p.add_argument(
        "--max-strokes",
        type=whole_number(1),
        default=3000,
        metavar="N",
        help="action budget per image (3000; brush strokes with --tools brush)",
    )
    p.add_argument(
        "--limit",
        type=whole_number(1),
        metavar="N",
        help="label only the first N images (natural order)",
    )
    p.add_argument(
        "--tools",
        type=bench_tools,
        default="all",
        help="tools the simulated annotator may use: 'all' (default), 'brush' (the first "
        "robot, brush strokes only) or a comma-separated list of: " + ", ".join(TOOLS),
    )
    p.add_argument(
        "--last",
        metavar="GLOB",
        help="label the images whose file name matches GLOB (in its letter case) after all "
        "others (e.g. 'val_*'); refused when it matches none of the images the run labels",
    )
    p.add_argument(
        "--stride",
        type=whole_number(1),
        default=1,
        metavar="K",
        help="label every K-th image (natural order) (1)",
    )
    p.add_argument(
        "--skip",
        type=whole_number(0),
        default=0,
        metavar="N",
        help="leave out the first N images of the labelling sequence: splits a long manual "
        "run between processes (join the parts with bench-combine) (0)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("bench-out"),
        metavar="DIR",
        help="output folder (default bench-out)",
    )
    p.add_argument(
        "--seed",
        type=seed,
        default=0,
        help="random seed of the training rounds and of the random strategy (default 0)",
    )
    p.add_argument(
        "--frozen-after",
        type=whole_number(0),
        default=2,
        metavar="N",
        help="frozen mode: images trained on (2; 0 only with --init-model)",
    )
    p.add_argument(
        "--train-now-every",
        type=whole_number(0),
        default=40,
        metavar="N",
        help="assisted: on the first image (begun with no model) press Train now after every "
        "N actions and go on from the new proposal; 0 = label it all by hand first (40)",
    )
    p.add_argument(
        "--seconds-per-action",
        type=number(least=0),
        default=SECONDS_PER_ACTION,
        metavar="S",
        help="assisted: a person's seconds per action; the app keeps training on the done "
        "images while an image is labelled, so the whole rounds that fit in its actions' "
        "time run before it is marked done; 0 = the app's keep-training off "
        f"({SECONDS_PER_ACTION:g})",
    )
    p.add_argument(
        "--init-model",
        type=Path,
        metavar="FILE",
        help="assisted and frozen: start from this model file (imported as version 1, as "
        "Model > Import model does) instead of from no model; its network replaces "
        "--arch, --depth and --width",
    )
    p.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda", "mps"),
        help="where rounds train and proposals run, as in the app (default: cuda, then "
        "mps, then cpu); cpu for runs that repeat exactly with --train-steps",
    )
    add_accepted_border_option(p)
    add_zoom_option(p)
    p.add_argument(
        "--max-radius",
        type=number(above=0),
        default=25.0,
        metavar="PX",
        help="largest brush radius, in pixels (25)",
    )
    p.add_argument("--depth", type=network_depth, default=4, help="network depth (4)")
    p.add_argument("--width", type=network_width, default=16, help="network base width (16)")
    p.add_argument(
        "--arch",
        type=architecture_name,
        default=None,
        metavar="NAME",
        help=f"network architecture ({DEFAULT_ARCH})",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the results of an earlier run of the same mode and strategy in --out "
        "(bench-MODE-STRATEGY.json and projects/MODE-STRATEGY/), which are otherwise refused: "
        "they are removed, with bench.json and bench.png, before the run starts; other runs' "
        "results there stay either way (with a warning)",
    )
    p.set_defaults(handler=cmd_bench)

    c = sub.add_parser(
        "bench-combine",
        help="compare runs of annotator bench made separately (e.g. one process per mode)",
        description="Reads per-run JSON files (bench-MODE-STRATEGY.json, or a bench.json "
        "with every run it holds) and writes bench.json, bench.png and the summary as if "
        "they had run together. Parts of one manual run (made with --skip) are joined in "
        "the order given.",
    )
    c.add_argument("runs", type=Path, nargs="+", metavar="RUN_JSON")
    c.add_argument("--out", type=Path, required=True, help="output folder")
    c.add_argument(
        "--first",
        type=whole_number(1),
        metavar="K",
        help="keep each run's first K labelled images only (to compare runs that were "
        "stopped early at the same point of the labelling sequence)",
    )
    c.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the files of the same names in --out (bench.json, bench.png, "
        "bench-MODE-STRATEGY.json), which are otherwise refused",
    )
    c.set_defaults(handler=cmd_bench_combine)


def cmd_bench(args: argparse.Namespace) -> int:
    from annotator.bench.dataset import load_dataset
    from annotator.bench.effort import BenchConfig, run_benchmark, summary_lines, write_outputs

    modes = args.mode  # (each a mode, once: checked by its type, bench_modes)
    if args.frozen_after == 0 and args.init_model is None:
        raise UsageError(
            "--frozen-after 0 goes with --init-model (that model, never updated); without "
            "it, give 1 or more"
        )
    configs = [
        BenchConfig(
            mode=m,
            strategy=args.strategy,
            train_steps=args.train_steps,
            train_seconds=30.0 if args.train_seconds is None else args.train_seconds,
            target=args.target,
            max_strokes=args.max_strokes,
            max_radius=args.max_radius,
            tools=args.tools,
            last=args.last,
            stride=args.stride,
            limit=args.limit,
            skip=args.skip,
            seed=args.seed,
            frozen_after=args.frozen_after,
            train_now_every=args.train_now_every,
            seconds_per_action=args.seconds_per_action,
            accepted_border=args.accepted_border,
            zoom=args.zoom,
            init_model=None if args.init_model is None else str(args.init_model),
            device=args.device,
            depth=args.depth,
            width=args.width,
            **({"arch": args.arch} if args.arch else {}),
        )
        for m in modes
    ]
    _check_out(args.out)
    _refuse_replacing(
        args.out,
        [
            *(f"bench-{c.mode}-{c.strategy}.json" for c in configs),
            *(f"projects/{c.mode}-{c.strategy}" for c in configs),
        ],
        args.overwrite,
    )
    dataset = load_dataset(args.dataset, args.classes)
    _check_last(dataset.images, configs[0])
    ours = {f"bench-{c.mode}-{c.strategy}.json" for c in configs}
    mine = [*sorted(ours), *(f"projects/{c.mode}-{c.strategy}" for c in configs)]
    earlier = sorted(p.name for p in args.out.glob("bench-*-*.json") if p.name not in ours)
    if earlier:  # bench-combine over the folder would mix them with this run's
        print(
            f"annotator: warning: {args.out} holds results of an earlier run "
            f"({', '.join(earlier)}); they stay (bench.json and bench.png will be this "
            "run's), and `bench-combine` over this folder would "
            "compare them with this run's: give a new --out to keep runs apart",
            file=sys.stderr,
        )
    for warning in dataset.warnings:
        print(f"annotator: warning: {warning}", file=sys.stderr)
    if dataset.note:
        print(f"annotator: note: {dataset.note}", file=sys.stderr)
    if any(c.mode != "manual" for c in configs):  # refused now, not after the manual run
        from annotator.ml.device import choose_device

        choose_device(args.device)
        if len(dataset.class_names) > 254:
            raise AnnotatorError(
                f"{len(dataset.class_names)} classes: the embedded model supports at most "
                "254, so only --mode manual can run on this set"
            )
    if args.init_model is not None:
        from annotator.services.versions import check_model_file

        # Refused now, not after an hour of manual labelling.
        check_model_file(args.init_model, dataset.class_names)
    # What this run writes goes now, not as each file is rewritten: a run stopped part-way
    # leaves none of an earlier run's files beside its own (bench.png, another mode's
    # JSON) for bench-combine or a reader to take as this run's.
    for name in (
        [*mine, "bench.json", "bench.png"] if args.overwrite else ["bench.json", "bench.png"]
    ):
        _remove(args.out / name)
    _seed_everything(args.seed)
    invocation = uuid.uuid4().hex[:12]
    runs: list[RunResult] = []
    for config in configs:
        workdir = args.out / "projects" / f"{config.mode}-{config.strategy}"
        _remove(workdir)
        done: list[RunResult] = list(runs)

        def checkpoint(partial: RunResult, done: list[RunResult] = done) -> None:
            write_outputs([*done, partial], args.out, plot=False)

        runs.append(
            run_benchmark(
                dataset,
                config,
                workdir,
                report=lambda s: print(s, file=sys.stderr),
                checkpoint=checkpoint,
                invocation=invocation,
            )
        )
    json_path, plot_path = write_outputs(runs, args.out)
    print("\n".join(summary_lines(runs)))
    print(f"wrote {json_path}" + (f" and {plot_path}" if plot_path else ""))
    return 0


def cmd_bench_combine(args: argparse.Namespace) -> int:
    import json

    from annotator.bench.effort import join_parts, run_from_dict, summary_lines, write_outputs

    _check_out(args.out)
    runs = []
    sources: list[Path] = []
    for path in args.runs:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise AnnotatorError(f"{path}: cannot read a run from it ({exc})") from exc
        # A report of runs made together (bench.json) holds them all under "runs"; its
        # top level repeats the first, so reading it as one run would drop the others.
        found = (
            data["runs"]
            if isinstance(data, dict) and isinstance(data.get("runs"), list)
            else [data]
        )
        if not found:
            raise AnnotatorError(f"{path}: holds no runs")
        for i, entry in enumerate(found):
            try:
                runs.append(run_from_dict(entry))
                sources.append(Path(path))
            except AnnotatorError as exc:
                where = f"{path}, run {i + 1}" if len(found) > 1 else str(path)
                raise AnnotatorError(f"{where}: {exc}") from exc
    _warn_mixed(runs, sources)
    runs = join_parts(runs)
    if args.first is not None:
        for run in runs:
            if len(run.images) < args.first:
                raise AnnotatorError(
                    f"--first {args.first}: the {run.mode} run has only {len(run.images)} images"
                )
            _keep_first(run, args.first)
    _refuse_replacing(
        args.out,
        ["bench.json", "bench.png", *(f"bench-{r.mode}-{r.strategy}.json" for r in runs)],
        args.overwrite,
    )
    json_path, plot_path = write_outputs(runs, args.out)
    print("\n".join(summary_lines(runs)))
    print(f"wrote {json_path}" + (f" and {plot_path}" if plot_path else ""))
    return 0


def _warn_mixed(runs: list[RunResult], sources: list[Path]) -> None:
    """Warn, naming them, when the runs come from more than one invocation of
    ``annotator bench`` (a file an earlier run left in a folder is easily taken along);
    louder when they labelled different datasets. Parts of one manual run are joined
    from separate invocations by design: they count once."""
    made: dict[str, list[str]] = {}
    datasets = set()
    for run, path in zip(runs, sources, strict=True):
        if not run.invocation:
            continue  # a file of an older version: not known
        when = f", started {run.started}" if run.started else ""
        made.setdefault(run.invocation, []).append(f"{run.mode}/{run.strategy} ({path}{when})")
        if run.dataset:
            datasets.add(run.dataset)
    kinds = {(r.mode, r.strategy) for r in runs if r.invocation}
    if len(made) < 2 or len(kinds) < 2:
        return
    which = "; ".join(", ".join(v) for v in made.values())
    other = f"of different datasets ({', '.join(sorted(datasets))}) " if len(datasets) > 1 else ""
    print(
        f"annotator: warning: comparing runs {other}made by {len(made)} separate invocations "
        f"of annotator bench: {which}; check that they are the runs you mean to compare",
        file=sys.stderr,
    )


def _remove(path: Path) -> None:
    """Remove a result file or folder of an earlier run, if there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _keep_first(run: RunResult, k: int) -> None:
    """Cut a run to its first ``k`` images, with the figures that belong to them: the
    rounds trained while and after labelling them, their time; the final mIoU is the
    whole run's model's, so it goes."""
    run.images = run.images[:k]
    frozen_after = run.config.get("frozen_after", 0)
    after = {"assisted": k, "frozen": min(k, frozen_after if isinstance(frozen_after, int) else 0)}
    rounds = sum(r.rounds_during for r in run.images) + after.get(run.mode, 0)
    run.train_rounds_s = run.train_rounds_s[:rounds]
    run.wall_seconds = sum(r.robot_seconds + r.train_seconds for r in run.images)
    run.final_miou, run.final_iou, run.eval_images = None, None, 0
    if run.planned is not None:  # the first k of a run (stopped or not) is what was meant
        run.planned, run.complete = k, len(run.images) >= k
    run.notes.append(
        f"combined over the first {k} images of the run (its final mIoU, of the whole run's "
        "model, left out)"
    )


def _check_last(images: Sequence[Path], config: BenchConfig) -> None:
    """Refuse a ``--last`` pattern that matches none of the images the run labels (a
    typo would otherwise change nothing, said nowhere, after hours of labelling)."""
    import fnmatch
    from dataclasses import replace

    from annotator.bench.effort import select_images

    if config.last is None:
        return
    labelled = select_images(list(images), replace(config, skip=0))
    if not any(fnmatch.fnmatchcase(p.name, config.last) for p in labelled):
        shown = ", ".join(p.name for p in labelled[:3]) + (", ..." if len(labelled) > 3 else "")
        raise AnnotatorError(
            f"--last {config.last!r}: matches none of the {len(labelled)} image(s) the run "
            f"labels ({shown}); it is matched against file names, in their letter case"
        )


def _check_out(out: Path) -> None:
    """``--out`` must be a folder (made if missing), refused before any work."""
    if out.exists() and not out.is_dir():
        raise AnnotatorError(f"--out {out}: is a file, not a folder")


def _refuse_replacing(out: Path, names: list[str], overwrite: bool) -> None:
    """Refuse, before any work, to replace the results ``names`` (files or folders in
    ``out``) of an earlier run unless ``overwrite``."""
    there = [n for n in dict.fromkeys(names) if (out / n).exists()]
    if there and not overwrite:
        raise AnnotatorError(
            f"--out {out}: already holds {', '.join(there)} of an earlier run; give a new "
            "folder, or --overwrite to replace them"
        )


def _seed_everything(seed: int) -> None:
    from annotator.ml.device import seed_everything

    seed_everything(seed)
