"""Model commands: train, predict, suggest, models.

``annotator train`` also runs under ``torchrun --nproc_per_node=N`` (DistributedDataParallel;
gloo on CPU, NCCL on GPUs); only rank 0 prints and publishes (a failure that only
another rank meets is said by that rank).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from annotator.cli import interrupts
from annotator.cli.json_output import Failure, print_json
from annotator.cli.options import (
    UsageError,
    architecture_name,
    model_version,
    name_words,
    network_depth,
    network_width,
    number,
    path_word,
    seed,
    whole_number,
    zoom,
)
from annotator.cli.progress import ProgressLine
from annotator.core import torchrun
from annotator.core.errors import AnnotatorError, InterruptedAfterPublish, SaidElsewhere

if TYPE_CHECKING:
    from annotator.core.errors import ImageReadError
    from annotator.core.records import ModelRecord
    from annotator.ml.train import TrainResult
    from annotator.services.projects import Project
    from annotator.services.proposals import PredictedImage
    from annotator.services.training import RoundOptions, TrainOutcome
    from annotator.services.versions import PruneReport

DEFAULT_MINUTES = 2.0


def add_accepted_border_option(p: argparse.ArgumentParser) -> None:
    """``--accepted-border N`` (``annotator train`` and ``annotator bench``)."""
    p.add_argument(
        "--accepted-border",
        type=whole_number(0),
        default=0,
        metavar="N",
        help="labels accepted from a proposal among the N pixels nearest a label border "
        "do not train (they keep the model's own offset); measured, it did not help, in "
        "the loop or for a final model (default 0: every label trains; docs/adr/0013)",
    )


def add_zoom_option(p: argparse.ArgumentParser) -> None:
    """``--zoom S`` (``annotator train`` and ``annotator bench``)."""
    p.add_argument(
        "--zoom",
        type=zoom,
        default=0.0,
        metavar="S",
        help="zoom the training crops by up to +-S on a log scale (0.3: 0.74x to 1.35x), "
        "for pictures whose objects appear at many sizes; measured, it cost accuracy on "
        "micrographs, and on road scenes trained briefly (default 0: off; docs/adr/0023)",
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model round on the project's labels")
    p.add_argument("project", type=Path)
    budget = p.add_mutually_exclusive_group()
    budget.add_argument(
        "--steps", type=whole_number(1), metavar="N", help="budget in optimiser steps"
    )
    budget.add_argument(
        "--minutes",
        type=number(above=0),
        metavar="M",
        help=f"budget in minutes of training (default {DEFAULT_MINUTES:g})",
    )
    p.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda", "mps"),
        help="where to train (default: cuda, then mps, then cpu)",
    )
    p.add_argument(
        "--from-scratch",
        action="store_true",
        help="start from random weights instead of the active model version",
    )
    p.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    add_accepted_border_option(p)
    add_zoom_option(p)
    from annotator.ml.networks import DEFAULT_ARCH, MAX_DEPTH, MAX_WIDTH, architecture_names

    p.add_argument(
        "--depth",
        type=network_depth,
        metavar="N",
        help=f"network depth for a new model, 1 to {MAX_DEPTH} (default 4)",
    )
    p.add_argument(
        "--width",
        type=network_width,
        metavar="N",
        help=f"network base width for a new model, 1 to {MAX_WIDTH} (default 16)",
    )
    p.add_argument(
        "--arch",
        type=architecture_name,
        metavar="NAME",
        help=f"architecture of a new model ({', '.join(architecture_names())}; "
        f"default {DEFAULT_ARCH}); with an existing model it needs --from-scratch",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object at the end: the version published (or null, and why), "
        "steps, loss and validation metrics, the exit code, and the error when the round "
        "failed or did not start (progress and messages stay on stderr)",
    )
    p.set_defaults(handler=cmd_train, json_failure=_round_failure_json)

    p = sub.add_parser("predict", help="write the active model's proposals")
    p.add_argument("project", type=Path)
    p.add_argument(
        "--images",
        nargs="+",
        action="extend",  # (--images=-x.png --images=b.png: names that begin with '-')
        metavar="NAME",
        help="only these images (default: all)",
    )
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="also write class-id PNG masks here, with images.json naming each one's image "
        "(and beside the mask of a GeoTIFF picture its world file, <stem>.pgw)",
    )
    p.add_argument(
        "--geotiff",
        action="store_true",
        help="with --out: write the mask of a GeoTIFF picture as a GeoTIFF (<stem>.tif, "
        "lossless, the picture's geo tags and so its CRS copied) instead of a PNG",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="with --out: replace masks already in DIR"
    )
    p.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda", "mps"),
        help="where the model runs (default: cuda, then mps, then cpu)",
    )
    p.add_argument(
        "--version",
        type=model_version,
        metavar="VERSION",
        help="propose with this kept model version (2, or v2 as `annotator models` lists "
        "it) instead of the active one; its proposals are stored as its own",
    )
    p.set_defaults(handler=cmd_predict)

    p = sub.add_parser(
        "suggest",
        help="rank the images to label next, as the GUI's N key does",
        description="Lists the images not yet done, best to label next first. With the "
        "uncertainty strategy (the default setting) they rank by the active model's "
        "uncertainty: scores it stored are read, the others are computed now (their "
        "proposals stored, as predict does; skip that with --stored-only).",
    )
    p.add_argument("project", type=Path)
    many = p.add_mutually_exclusive_group()
    many.add_argument(
        "-n", "--count", type=whole_number(1), default=10, metavar="N", help="how many (default 10)"
    )
    many.add_argument("--all", action="store_true", help="every image not done")
    from annotator.ml.strategies import STRATEGIES

    p.add_argument(
        "--strategy",
        choices=sorted(STRATEGIES),
        help="the order (default: the project's setting, as in the GUI's Model panel)",
    )
    p.add_argument(
        "--stored-only",
        action="store_true",
        help="rank by the scores already stored; compute none (the images the active "
        "model has not scored come after, by older scores)",
    )
    p.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda", "mps"),
        help="where the model scores the images not scored yet (default: cuda, then mps, then cpu)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_suggest)

    p = sub.add_parser(
        "models",
        help="list model versions, roll back to one, or move one between projects",
        description="Without an option, lists the project's model versions. A version "
        "travels between projects as one checkpoint file: --export writes it, --import "
        "stores it as the next version of another project with the same classes.",
    )
    p.add_argument("project", type=Path)
    what = p.add_mutually_exclusive_group()
    what.add_argument(
        "--rollback",
        type=model_version,
        metavar="VERSION",
        help="make VERSION (2, or v2 as listed) the active model",
    )
    what.add_argument(
        "--import",
        dest="import_file",
        type=Path,
        metavar="FILE",
        help="store the model checkpoint FILE as the next version and make it active "
        "(its classes must be the project's, or the first of them)",
    )
    what.add_argument(
        "--export",
        dest="export_file",
        type=Path,
        metavar="FILE",
        help="write the active version (or --from-version) as one checkpoint file; "
        "a FILE ending in .onnx gets the version's ONNX file instead (inference only)",
    )
    what.add_argument(
        "--keep",
        type=whole_number(0),
        metavar="N",
        help="keep the files of only the newest N versions and the active one, from now "
        "on (each is about 15 MB, and every round makes one; default 20, 0 keeps all); "
        "versions trained while you labelled (listed so) count apart, the "
        "newest 5 kept; older versions stay listed with their scores",
    )
    p.add_argument(
        "--from-version",
        type=model_version,
        metavar="VERSION",
        help="with --export: the version to write",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="with --export: replace an existing FILE"
    )
    p.add_argument(
        "--again",
        action="store_true",
        help="with --import: store FILE as a new version even if a file of the same "
        "content was imported before (otherwise that import says so and does nothing)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_models)


def _size(parameters: int | None) -> str:
    return "?" if parameters is None else f"{parameters / 1e6:.2f}M"


def _fmt(v: object) -> str:
    return "n/a" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)


def cmd_train(args: argparse.Namespace) -> int:
    from annotator.services.training import RoundOptions

    try:  # (--steps, --minutes and the others' ranges: checked by their types)
        seconds = None if args.steps is not None else 60.0 * (args.minutes or DEFAULT_MINUTES)
        options = RoundOptions(
            steps=args.steps,
            seconds=seconds,
            device=args.device,
            from_scratch=args.from_scratch,
            seed=args.seed,
            accepted_border=args.accepted_border,
            zoom=args.zoom,
            depth=args.depth,
            width=args.width,
            arch=args.arch,
        )
    except AnnotatorError as exc:
        if torchrun.is_helper_rank():  # torchrun: the same options everywhere; rank 0 says
            raise SaidElsewhere(str(exc)) from None
        raise
    _continued.clear()  # (a round of before in this process, as tests run them)
    with _sigint_cancels() as cancel:  # also while the result is printed
        return _train(args, options, cancel)


def _train(args: argparse.Namespace, options: RoundOptions, cancel: _RoundCancel) -> int:
    """The round ``cmd_train`` asked for, and what it says about it; a ``cancel`` (Ctrl+C)
    set however late exits 130, saying whether the round had published its version."""
    from annotator.cli import EXIT_INTERRUPTED, EXIT_USER_ERROR
    from annotator.core.errors import Cancelled, ImageReadError
    from annotator.ml.train import TrainProgress
    from annotator.services.training import train_headless

    line = ProgressLine("training")

    def report(p: TrainProgress) -> None:
        if p.phase == "write":
            cancel.writing = True  # (until the round has ended: _RoundCancel)
        # What a phase between the steps does (loading, scoring, writing), in words; the
        # round's own time left (ProgressLine's own counts the start-up as steps' time).
        what = f"loss {p.loss:.4f} {p.phase}" if p.phase == "train" or not p.detail else p.detail
        if p.max_steps:
            line(p.step, p.max_steps, what, p.eta_s, phase=p.phase)
        else:
            total = int(p.max_seconds or 0)
            done = min(int(p.elapsed_s), total)
            text = f"step {p.step} {what}" if p.phase == "train" else what
            line(done, total, text, p.eta_s, phase=p.phase)

    main = not torchrun.is_helper_rank()
    try:
        try:
            outcome = train_headless(args.project, options, report, cancel, _continues_from)
        finally:
            cancel.writing = False  # (a stop signal now stops what is said at once)
    except Cancelled as exc:  # Ctrl+C while the labels were read
        line.finish()
        if main:
            said = f"{exc}{interrupts.by()}; the model version is unchanged"
            if args.json:
                print_json(_round_json(None, True, said, said, interrupts.exit_code()))
            print(f"annotator: {said}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ImageReadError as exc:
        if exc.problem != "no such file":
            raise
        line.finish()
        raise AnnotatorError(_missing_image(args.project, exc)) from None
    except BaseException:
        line.finish()  # the message goes on a line of its own
        raise
    line.finish()
    if outcome.result.status == "cancelled":  # Ctrl+C: what was asked for, not an error
        if outcome.main_process:
            said = "training " + outcome.result.message.replace(
                "cancelled", f"cancelled{interrupts.by()}", 1
            )
            if args.json:
                print_json(_round_json(outcome, True, said, said, interrupts.exit_code()))
            print(f"annotator: {said}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if args.json and outcome.main_process:
        stopped = cancel.is_set()  # (what the object says is what the exit code says)
        failed = (
            None
            if outcome.model is not None or stopped
            else f"training round not published: {outcome.result.message}"
        )
        error = _late_stop(outcome) if stopped else failed
        code = interrupts.exit_code() if stopped else EXIT_USER_ERROR if failed else 0
        print_json(_round_json(outcome, stopped, None, error, code))
        for note in outcome.left_out:
            print(f"note: {note}", file=sys.stderr)
        for note in outcome.notes:
            print(f"note: {note} ({_from_scratch(args.project)})", file=sys.stderr)
        for warning in outcome.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        if failed is not None:  # said in the JSON, and here
            raise AnnotatorError(failed)
        if stopped:
            print(f"annotator: {error}", file=sys.stderr)
            return EXIT_INTERRUPTED
        return 0
    if not cancel.is_set() and outcome.main_process:
        _print_round(outcome, args.project)
    if cancel.is_set():  # Ctrl+C came too late to stop the round (or while it was said)
        if outcome.main_process:
            print(f"annotator: {_late_stop(outcome)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def _late_stop(outcome: TrainOutcome) -> str:
    """What a Ctrl+C (or SIGTERM, SIGHUP) that came too late to stop the round says."""
    if outcome.model is None:
        return f"training cancelled{interrupts.by()}: the model version is unchanged"
    return f"{InterruptedAfterPublish(outcome.model.version)}{interrupts.by()}"


def _round_json(
    outcome: TrainOutcome | None,
    interrupted: bool,
    reason: str | None = None,
    error: str | None = None,
    exit_code: int = 0,
) -> dict[str, object]:
    """What ``train --json`` prints: one object, whether or not a version was published
    (``published``: its number, or null and ``reason`` says why), and with the command's
    ``exit_code`` and, unless that is 0, the line said on stderr (``error``)."""
    result = None if outcome is None else outcome.result
    model = None if outcome is None else outcome.model
    if model is None and reason is None:
        reason = (
            "training cancelled: the model version is unchanged"
            if interrupted
            else result.message
            if result is not None and result.message
            else "not published"
        )
    metrics: dict[str, object] | None = None
    if model is not None and result is not None and result.metrics is not None:
        card = model.card.metrics
        metrics = {
            "pixels": card.val_pixels,
            "pixel_accuracy": card.pixel_accuracy,
            "mean_iou": card.mean_iou,
            "iou": dict(card.iou),
            "not_scored": card.not_scored,
        }
    loss = None if result is None else result.final_loss
    return {
        "published": None if model is None else model.version,
        # (a round that did not publish: the version it continued from, as a card says)
        "parent": model.parent if model is not None else _parent(result),
        "status": "cancelled" if result is None else result.status,
        "steps": 0 if result is None else result.steps,
        "seconds": None if result is None else round(result.seconds, 3),
        "device": None if result is None else result.device,
        "processes": 1 if result is None else result.world_size,
        "loss": loss if loss is not None and math.isfinite(loss) else None,
        "metrics": metrics,
        "reason": None if model is not None else reason,
        "interrupted": interrupted,
        "notes": [] if outcome is None else [*outcome.left_out, *outcome.notes],
        "warnings": [] if outcome is None else list(outcome.warnings),
        "error": error,
        "exit_code": exit_code,
    }


#: The version the round of this process continues from, once its labels are read
#: (``train --json`` says it however the round ends).
_continued: list[int | None] = []


def _continues_from(version: int | None) -> None:
    _continued[:] = [version]


def _parent(result: TrainResult | None) -> int | None:
    """The version a round that published nothing continued from (None: from scratch,
    or a round that failed before its labels were read)."""
    if result is not None:
        return result.parent_version
    return _continued[0] if _continued else None


def _round_failure_json(failure: Failure) -> dict[str, object]:
    """What ``train --json`` prints when the round failed, or was interrupted, before it
    printed its object (nothing labelled, the project locked, a bad option value...)."""
    data = _round_json(None, failure.interrupted, failure.error, failure.error, failure.exit_code)
    data["status"] = "cancelled" if failure.interrupted else "failed"
    if failure.published is not None:  # stopped after the version was published
        data.update(published=failure.published, reason=None)
    return data


def _missing_image(root: Path, exc: ImageReadError) -> str:
    """What to do about an image whose file is gone (the round stopped on it), in a line."""
    from annotator.services.projects import open_project

    with open_project(root, lock=False) as project:
        records = project.images()
        gone = [r for r in records if not project.image_path(r).is_file()]
        name = next((r.name for r in gone if str(project.image_path(r)) == exc.path), None)
    if name is None:
        return str(exc)
    others = f" ({len(gone) - 1} other image(s) have no file either)" if len(gone) > 1 else ""
    return (
        f"{exc}{others}; put the file back, or remove the image from the project with "
        f"`annotator remove {path_word(root)} {name_words([name])}` (its labels are "
        f"kept in {root / 'removed'}{os.sep})"
    )


def _from_scratch(project: Path) -> str:
    """The command that trains the project's next round from scratch, to copy."""
    return f"`annotator train {path_word(project)} --from-scratch`"


def _print_round(outcome: TrainOutcome, project: Path) -> None:
    """What ``annotator train`` says about a round (refusing one that did not publish)."""
    result = outcome.result
    if result.status != "finished" or outcome.model is None:
        raise AnnotatorError(f"training round not published: {result.message}")
    m = outcome.model
    parent = f" (from v{m.parent})" if m.parent else " (from scratch)"
    print(
        f"published model v{m.version}{parent}: {result.steps} "
        f"step{'' if result.steps == 1 else 's'} in "
        f"{result.seconds:.0f} s on {result.device}"
        + (f" x{result.world_size} processes" if result.world_size > 1 else "")
        + f", loss {result.final_loss:.4f}"
    )
    for note in outcome.left_out:
        print(f"note: {note}", file=sys.stderr)
    for note in outcome.notes:
        print(f"note: {note} ({_from_scratch(project)})", file=sys.stderr)
    for warning in outcome.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if result.metrics is None:
        print("no validation: too few labelled pixels to hold some out")
        return
    met = result.metrics
    if (why := m.card.metrics.not_scored) is not None:
        print(f"validation: not scored: {why}")
        return
    print(
        f"validation on {met.pixels:,} labelled pixels: pixel accuracy "
        f"{met.pixel_accuracy:.4f}, {m.card.metrics.score_text(4, 'mean IoU')}"
    )
    for name, iou in zip(m.card.classes, met.iou):
        print(f"  IoU {name:<20} {_fmt(iou)}")


class _RoundCancel(threading.Event):
    """The round's cancel, which also knows whether the round is writing its version
    (from its report of the ``write`` phase on): a second stop signal then waits for
    the write to finish or roll back (the cancel is read there), a third one stops at
    once (the version's files are written all or nothing: no half version either way)."""

    def __init__(self) -> None:
        super().__init__()
        self.writing = False
        self.waited = False  # a second stop signal came while writing


@contextlib.contextmanager
def _sigint_cancels() -> Iterator[_RoundCancel]:
    """Ctrl+C, SIGTERM (a batch system's time limit, ``kill``) or SIGHUP (a closed
    terminal) ends the round at its next step (a second one interrupts at once, but for
    a second SIGHUP: a closed terminal may send two, and but while the version is
    written: :class:`_RoundCancel`)."""
    cancel = _RoundCancel()
    if threading.current_thread() is not threading.main_thread():
        yield cancel
        return

    def on_signal(signum, frame):  # type: ignore[no-untyped-def]
        if interrupts.repeated_hangup(signum):
            return
        interrupts.note(signum)
        if cancel.is_set() and cancel.writing and not cancel.waited:
            cancel.waited = True  # the write finishes, or rolls back on the cancel
            return
        if cancel.is_set():
            raise interrupts.Terminated(signum) if signum != signal.SIGINT else KeyboardInterrupt
        cancel.set()

    from annotator.services.project_lock import stop_waiting_when

    signals = (signal.SIGINT, *interrupts.STOP_SIGNALS)
    previous = {s: signal.signal(s, on_signal) for s in signals}
    checked = stop_waiting_when(cancel.is_set)  # (--wait for the project's lock: ends it)
    try:
        yield cancel
    finally:
        stop_waiting_when(checked)
        for s, handler in previous.items():
            signal.signal(s, handler)


def cmd_predict(args: argparse.Namespace) -> int:
    from annotator.core.errors import ModelError
    from annotator.ml.device import configure_cpu_threads
    from annotator.services.projects import images_of, open_project
    from annotator.services.proposals import (
        VOLUMES_DIR,
        check_version,
        lacking_pictures,
        predict_images,
        proposals_folder,
    )
    from annotator.services.versions import stale_note

    if args.overwrite and args.out is None:
        raise UsageError("--overwrite goes with --out DIR")
    if args.geotiff and args.out is None:
        raise UsageError("--geotiff goes with --out DIR")
    configure_cpu_threads()
    with open_project(args.project) as project:
        if args.version is not None:
            check_version(project, args.version)
        records = None
        if args.images:  # each image once, in the order first named
            records = list({r.id: r for r in images_of(project, args.images)}.values())
        line = ProgressLine("predicting")
        lacking: list[str] = []
        skipped: list[tuple[str, str]] = []
        made: list[PredictedImage] = []
        geo_notes: list[str] = []
        volumes: list[Path] = []
        try:
            done = predict_images(
                project,
                records,
                progress=line,
                out_dir=args.out,
                device=args.device,
                overwrite=args.overwrite,
                skipped=skipped,
                made=made,
                geotiff=args.geotiff,
                geo_notes=geo_notes,
                volumes=volumes,
                version=args.version,
                lacking=lacking,
            )
        except ModelError:  # no model, or one of other classes: said with the command
            line.finish()  # to run (the service's words name no project)
            if project.active_model() is None:
                raise AnnotatorError(
                    "the project has no model yet: run "
                    f"`annotator train {path_word(args.project)}` first"
                ) from None
            if stale := stale_note(project):
                raise AnnotatorError(stale) from None
            raise
        except KeyboardInterrupt:  # the proposals made so far are stored
            from annotator.cli import EXIT_INTERRUPTED

            line.finish()
            total = len(project.images()) if records is None else len(records)
            print(
                f"annotator: interrupted after {len(made)} of {total} image(s), whose "
                "proposals stay in the project"
                + (f"; nothing was written to {args.out}" if args.out else ""),
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED
        line.finish()
        for name, reason in skipped:
            print(f"skipped {name}: {reason}", file=sys.stderr)
        if lacking:
            print(f"note: {lacking_pictures(project, lacking, args.version)}", file=sys.stderr)
        if not done and not skipped and not lacking:
            print(
                "no images in the project to propose for: add some with "
                f"`annotator add {path_word(args.project)} FOLDER`"
            )
            return 0
        version = done[0].model_version if done else _predicting_version(project, args.version)
        print(
            f"wrote {len(done)} proposal(s) from model v{version} into "
            f"{proposals_folder(project)}"
            + (f" and {args.out}" if args.out else "")
            + (
                f", and {len(volumes)} label volume(s) of NIfTI scans in "
                f"{Path(args.out) / VOLUMES_DIR}"
                if volumes
                else ""
            )
        )
        for note in geo_notes:
            print(f"  {note}")
        if skipped:
            print(f"  {len(skipped)} image(s) could not be read and have no proposal")
        if lacking:
            print(f"  {len(lacking)} image(s) lack a chosen channel and have no proposal")
    return predict_exit_code(len(done), len(skipped), len(lacking))


def predict_exit_code(done: int, unread: int, lacking: int) -> int:
    """1 when images were selected and none could be predicted (unreadable, or lacking
    a channel of the version's Channel Choice); 2 when some could not be read and others
    were predicted; else 0 (a picture lacking a chosen channel beside others predicted
    is a note, as in ``suggest``)."""
    if not done and (unread or lacking):
        return 1
    return 2 if unread else 0


def _predicting_version(project: Project, version: int | None) -> int | None:
    """The version ``predict`` proposes with: ``version``, or the active one."""
    if version is not None:
        return version
    active = project.active_model()
    return None if active is None else active.version


def cmd_suggest(args: argparse.Namespace) -> int:
    from annotator.ml.device import configure_cpu_threads
    from annotator.services.projects import open_project
    from annotator.services.proposals import lacking_pictures
    from annotator.services.suggestions import SCORED, suggest_images

    configure_cpu_threads()
    # --stored-only writes nothing: it runs beside a writer (the app, a training round)
    with open_project(args.project, lock=not args.stored_only) as project:
        line = ProgressLine("scoring")
        found = suggest_images(
            project,
            None if args.all else args.count,
            args.strategy,
            score_missing=not args.stored_only,
            device=args.device,
            progress=line,
        )
        line.finish()
        lacking = (
            lacking_pictures(project, found.lacking, what="are not ranked") if found.lacking else ""
        )
    for name, reason in found.skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    if found.lacking:
        print(f"note: {lacking}", file=sys.stderr)
    if args.json:
        print_json(
            {
                "strategy": found.strategy,
                "ordered_by": found.ordered_by,
                "active_version": found.active_version,
                "candidates": found.candidates,
                "scored_now": found.scored_now,
                "images": [vars(i) for i in found.images],
                "skipped": [{"name": n, "reason": r} for n, r in found.skipped],
                "lacking_channels": found.lacking,
            }
        )
        return 2 if found.skipped else 0
    if not found.candidates:
        print("every image is done: nothing left to label")
        return 0
    if found.strategy != SCORED:
        how = {"in-order": "in the order added", "random": "in random order"}.get(
            found.strategy, f"{found.strategy} order"
        )
    elif found.active_version is None:
        how = "no model yet: in the order added; train a round for the model's choice"
    else:
        how = f"uncertainty of model v{found.active_version}"
        if found.scored_now:
            how += f", {found.scored_now} scored now"
    if not found.images and not found.skipped:  # every candidate lacks a chosen channel
        print("no image left to label has the channels the model takes: nothing to suggest")
        return 0
    if not found.images:  # every candidate was skipped: each is named above
        print(
            f"none of the {found.candidates} image(s) left to label could be read: "
            "nothing to suggest",
            file=sys.stderr,
        )
        return 2
    first = "best first" if found.strategy == SCORED else "next first"
    print(f"{len(found.images)} of {found.candidates} image(s) to label, {first} ({how}):")
    width = max(len(i.name) for i in found.images)
    for rank, item in enumerate(found.images, 1):
        score = "" if item.score is None or found.strategy != SCORED else f"{item.score:.3f}"
        if score and item.version != found.active_version:
            score += f" (v{item.version})" if item.version is not None else " (older model)"
        gone = "  (picture missing)" if item.missing else ""
        print(f"{rank:4d}  {item.name:<{width}}  {item.status:<11} {score}".rstrip() + gone)
    if found.skipped:
        print(f"  {len(found.skipped)} image(s) could not be read and are not listed")
    if missing := found.missing():
        lost = [i.name for i in found.images if i.missing]
        names = name_words(lost) if len(lost) <= 3 else "NAME..."
        print(
            f"  {missing} of them have no picture on disk (moved or deleted; ranked by a "
            "score stored before): put the file back, or remove the image with "
            f"`annotator remove {path_word(args.project)} {names}`"
        )
    unscored = found.unscored()
    if unscored:
        print(
            f"  {unscored} of them have no score of any model yet (listed in the order "
            "added): run without --stored-only to score them"
        )
    stale = found.stale()
    if stale:
        print(
            f"  {stale} of them rank by an older model's score (the active one has not "
            "scored them: run without --stored-only)"
        )
    return 2 if found.skipped else 0


def cmd_models(args: argparse.Namespace) -> int:
    from annotator.services import versions
    from annotator.services.channels import channels_note
    from annotator.services.projects import open_project

    if args.from_version is not None and args.export_file is None:
        raise UsageError("--from-version goes with --export FILE")
    if args.overwrite and args.export_file is None:
        raise UsageError("--overwrite goes with --export FILE")
    if args.again and args.import_file is None:
        raise UsageError("--again goes with --import FILE")
    chosen = (args.rollback, args.import_file, args.export_file, args.keep)
    if args.json and chosen != (None, None, None, None):
        raise UsageError("--json is for the listing of versions (without an option)")
    writes = args.rollback is not None or args.import_file is not None or args.keep is not None
    # listing and export only read and run beside a writer; rollback and import take the lock
    with open_project(args.project, lock=writes) as project:
        if args.rollback is not None:
            record = versions.rollback(project, args.rollback)
            print(f"active model is now v{record.version}")
            return 0
        if args.import_file is not None:
            before = (
                versions.imported_before(project, args.import_file)
                if not args.again and args.import_file.is_file()
                else None
            )
            if before is not None:
                active = project.active_model()
                how = (
                    "it is active"
                    if active is not None and active.version == before.version
                    else f"`annotator models {path_word(args.project)} --rollback "
                    f"{before.version}` makes it active"
                )
                print(
                    f"{args.import_file}: already imported as v{before.version} (the same "
                    f"file content), nothing changed; {how} (--again imports it once more)"
                )
                return 0
            record = versions.import_model(project, args.import_file)
            print(
                f"imported {args.import_file} as v{record.version} "
                f"({record.card.arch}, classes {', '.join(record.card.classes)}); it is active"
            )
            return 0
        if args.keep is not None:
            report = versions.set_keep_versions(project, args.keep)
            print(_kept(report))
            return 0
        if args.export_file is not None:
            record = versions.export_model(
                project, args.export_file, args.from_version, overwrite=args.overwrite
            )
            if versions.is_onnx_name(args.export_file):
                print(
                    f"wrote v{record.version} to {args.export_file} as ONNX (for inference "
                    "with other tools; --import takes a .pt export, not this file)"
                )
            else:
                print(f"wrote v{record.version} to {args.export_file}")
            return 0
        models, active_v = versions.listing(project)
        stored = versions.stored(project)
        stale = versions.stale_note(project)
        pooled_matters = versions.pooled_matters(project)
        project_choice = project.channel_choice()
    if args.json:
        print_json([_model_json(m, active_v, m.version in stored) for m in models])
        return 0
    if not models:
        print(f"no model versions yet: run `annotator train {path_word(args.project)}`")
        return 0
    print(
        f"  {'version':<8} {'parent':<7} {'created (UTC)':<20} {'arch':<10} {'params':>9} "
        f"{'steps':>7} {'images':>6} {'accuracy':>8} {'mIoU':>7}"
    )
    for m in models:
        card = m.card
        steps = "?" if card.training.steps is None else card.training.steps
        mark = "*" if m.version == active_v else " "
        print(
            f"{mark} v{m.version:<7} {('v' + str(m.parent)) if m.parent else '-':<7} "
            f"{m.created_at[:19]:<20} {card.arch:<10} {_size(card.parameters):>9} {steps:>7} "
            f"{len(card.train_images):>6} {_fmt(card.pixel_accuracy):>8} {_fmt(card.mean_iou):>7}"
            + ("  trained while you labelled" if card.kept_on else "")
        )
        if card.imported_from:
            print(f"  {'':<8} imported from {card.imported_from}")
        if card.adapted:
            print(f"  {'':<8} adapted from {card.adapted} (not trained since)")
        if m.version not in stored:
            print(f"  {'':<8} its files are gone: it cannot be rolled back to or exported")
        if note := versions.normalisation_note(card, pooled_matters):
            print(f"  {'':<8} {note}")
        if m.version == active_v and (note := channels_note(card, project_choice)):
            print(f"  {'':<8} {note}")
        if (why := card.metrics.not_scored) is not None:
            print(f"  {'':<8} not scored: {why}")
        elif card.mean_iou is not None and card.metrics.iou_classes < len(card.metrics.iou):
            print(f"  {'':<8} {card.metrics.score_text(4)}")
    if stale:
        print(f"note: {stale}", file=sys.stderr)
    return 0


def _kept(report: PruneReport) -> str:
    if report.keep == 0:
        return "every model version's files are kept from now on"
    newest = (
        "the newest model version's files"
        if report.keep == 1
        else f"the newest {report.keep} model versions' files"
    )
    text = f"{newest} (and the active one's) are kept"
    if not report.removed:
        return text + "; nothing to remove now"
    shown = ", ".join(f"v{v}" for v in report.removed)
    return f"{text}; removed the files of {shown} ({report.freed / 1e6:.1f} MB freed)"


def _model_json(m: ModelRecord, active_v: int | None, stored: bool) -> dict[str, object]:
    return {
        "version": m.version,
        "parent": m.parent,
        "created_at": m.created_at,
        "active": m.version == active_v,
        "files": stored,
        "card": m.card.to_dict(),
    }
