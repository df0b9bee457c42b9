"""Image status and proposal commands: mark, accept (what Ctrl+D and A do in the app)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from annotator.cli.json_output import print_json
from annotator.cli.options import UsageError, model_version, option_names, path_word
from annotator.cli.progress import ProgressLine
from annotator.core.channels import lacking_note
from annotator.core.errors import AnnotatorError
from annotator.core.status import ImageStatus

if TYPE_CHECKING:
    from collections.abc import Sequence

    from annotator.core.records import ImageRecord
    from annotator.services.accepting import AcceptReport, Skipped
    from annotator.services.image_status import MarkReport
    from annotator.services.projects import Project

#: How many names a line on skipped images shows before counting the rest (-v: all).
NAMES_SHOWN = 3
#: Up to how many images a suggested predict command names (more: the whole project).
NAMED_IN_COMMAND = 10


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "mark",
        help="mark images done or not done (as Ctrl+D in the app)",
        description="Marks the images named (or --all, or those of --status) done, or not "
        "done. An image with no labelled pixel cannot be done (it would only drop out of "
        "'next suggested': exports and training leave it out); it is left as it is and "
        "named. Not done gives an image the status its labels say: in_progress with a "
        "labelled pixel, else new.",
    )
    p.add_argument("project", type=Path)
    p.add_argument("images", nargs="*", metavar="IMAGE", help="image names (or ids)")
    way = p.add_mutually_exclusive_group(required=True)
    way.add_argument("--done", action="store_true", help="mark them done")
    way.add_argument(
        "--not-done",
        action="store_true",
        help="mark them not done: in_progress, or new when nothing is labelled",
    )
    _selection_options(p, "every image (instead of IMAGE names)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_mark)

    p = sub.add_parser(
        "accept",
        help="accept stored proposals into the images' labels (as A in the app)",
        description="Copies each image's stored proposal into its labels where nothing is "
        "labelled yet, as Accept (A) does in the app: labels already there (void too) "
        "stay, the label source becomes proposal:vN+user, a new image becomes "
        "in_progress, and the proposal is kept beside the labels as the Accepted "
        "Proposal. Only proposals stored in the project are accepted (`annotator "
        "predict P` stores the active model's); the model is not run unless --predict "
        "is given.",
    )
    p.add_argument("project", type=Path)
    p.add_argument("images", nargs="*", metavar="IMAGE", help="image names (or ids)")
    _selection_options(
        p,
        "every image not done (instead of IMAGE names; done ones: name them, or give "
        "--status done)",
    )
    p.add_argument(
        "--version",
        type=model_version,
        metavar="VERSION",
        help="accept the proposals of this model version (2, or v2 as listed; default: "
        "the active one)",
    )
    p.add_argument(
        "--predict",
        action="store_true",
        help="first store the active model's proposals of the images that have none of "
        "it, as `annotator predict` does (runs the model); without it only stored "
        "proposals are accepted",
    )
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda", "mps"),
        help="with --predict: where the model runs (default: cuda, then mps, then cpu)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_accept)


def _selection_options(p: argparse.ArgumentParser, all_help: str) -> None:
    p.add_argument("--all", action="store_true", help=all_help)
    p.add_argument(
        "--status",
        choices=[s.value for s in ImageStatus],
        help="the images of this status (with IMAGE names: those of them only)",
    )


def _check_selection(args: argparse.Namespace) -> None:
    """Refuse, before any work, a command line that names no images or names them twice."""
    if args.all and args.images:
        raise UsageError("give IMAGE names or --all, not both")
    if not (args.images or args.all or args.status):
        raise UsageError("name the images, or give --all or --status")


def _selected(project: Project, args: argparse.Namespace, *, done_too: bool) -> list[ImageRecord]:
    """The images the command line selects (as ``remove`` selects them). ``--all``
    alone: every image, or with ``done_too`` False every image not done."""
    from annotator.services.projects import select_images

    status = None if args.status is None else ImageStatus(args.status)
    if args.all and status is None:
        return [r for r in project.images() if done_too or r.status is not ImageStatus.DONE]
    return select_images(project, args.images, status)


def _none_selected(args: argparse.Namespace, *, done_too: bool) -> str:
    """Why the selection (of :func:`_selected`) is empty, in words."""
    if args.status is not None:
        among = " among those named" if args.images else ""
        return f"no image{among} is {args.status}"
    return "the project has no images" if done_too else "every image is done"


# --- mark --------------------------------------------------------------------------------------


def cmd_mark(args: argparse.Namespace) -> int:
    from annotator.services.image_status import MarkReport, mark_images
    from annotator.services.projects import open_project

    _check_selection(args)
    with open_project(args.project) as project:
        records = _selected(project, args, done_too=True)
        line = ProgressLine("marking")
        report = MarkReport(args.done)
        try:
            mark_images(project, records, args.done, line, report)
        except KeyboardInterrupt:  # each status is set on its own: those set stay
            from annotator.cli import EXIT_INTERRUPTED

            line.finish()
            print(
                f"annotator: interrupted after marking {len(report.marked)} of "
                f"{len(records)} image(s) {report.what}, which stay so",
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED
        line.finish()
    none = bool(report.refused) and not (report.marked or report.unchanged)
    code = 1 if none else 2 if report.refused else 0
    if args.json:  # (the object also when no image could be marked: its exit code added)
        error = {"error": report.refused_text()} if none else {}
        print_json({**_mark_json(report), "exit_code": code, **error})
    if none:
        raise AnnotatorError(report.refused_text())
    if not args.json:
        print(
            report.summary()
            if records
            else f"{_none_selected(args, done_too=True)}: nothing marked"
        )
    return code


def _mark_json(report: MarkReport) -> dict[str, object]:
    from annotator.services.image_status import NO_LABELS

    def image(r: ImageRecord) -> dict[str, object]:
        return {"id": r.id, "name": r.name, "status": r.status.value}

    return {
        "done": report.done,
        "marked": [image(r) for r in report.marked],
        "unchanged": [image(r) for r in report.unchanged],
        "refused": [{**image(r), "reason": NO_LABELS} for r in report.refused],
    }


# --- accept ------------------------------------------------------------------------------------


def cmd_accept(args: argparse.Namespace) -> int:
    from annotator.core.errors import ModelError
    from annotator.services.accepting import (
        Accepted,
        AcceptReport,
        accept_proposals,
        accepted_version,
    )
    from annotator.services.projects import open_project

    _check_selection(args)
    if args.device is not None and not args.predict:
        raise UsageError("--device goes with --predict")
    with open_project(args.project) as project:
        try:
            version = accepted_version(project, args.version)
        except ModelError:
            if args.version is None and project.active_model() is None:
                raise AnnotatorError(
                    "the project has no model yet, so no proposals to accept: run "
                    f"`annotator train {path_word(args.project)}` first"
                ) from None
            raise
        records = _selected(project, args, done_too=False)
        active = project.active_model()
        left_out = len(project.images(ImageStatus.DONE)) if args.all and args.status is None else 0
        if not records:
            said = f"{_none_selected(args, done_too=False)}: nothing accepted"
            if args.json:
                print_json({**_accept_json(AcceptReport(version)), "predicted": 0, "exit_code": 0})
            print(said, file=sys.stderr if args.json else sys.stdout)
            return 0
        unread: list[Skipped] = []
        predicted = 0
        if args.predict:
            if active is None or version != active.version:
                raise UsageError(
                    f"--predict stores the active model's proposals, not v{version}'s: "
                    "leave out --version, or --predict"
                )
            found = _predict(args, project, records)
            if isinstance(found, int):
                return found  # (interrupted)
            unread, predicted = found
            records = [r for r in records if r.id not in {s.record.id for s in unread}]
        line = ProgressLine("accepting")
        accepted: list[Accepted] = []
        try:
            report = accept_proposals(project, records, version, progress=line, accepted=accepted)
        except KeyboardInterrupt:  # those handed to the saver were written (finally)
            from annotator.cli import EXIT_INTERRUPTED

            line.finish()
            print(
                f"annotator: interrupted after accepting into {len(accepted)} of "
                f"{len(records)} image(s), whose labels are saved",
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED
        line.finish()
    report.skipped.extend(unread)
    hints = _skipped_lines(args, report, active.version if active is not None else None)
    code = accept_exit_code(report)
    summary = _accept_summary(report, left_out, predicted)
    if args.json:  # (the object also when nothing could be accepted: its exit code added)
        error = {"error": summary} if code == 1 else {}
        print_json({**_accept_json(report), "predicted": predicted, "exit_code": code, **error})
    elif code != 1:
        print(summary)
    for hint in hints:
        print(hint, file=sys.stderr)
    if code == 1:
        raise AnnotatorError(summary)
    return code


def accept_exit_code(report: AcceptReport) -> int:
    """0 when every image took its proposal or had nothing left to fill (its labels hold
    it already: no failure); 2 when some were skipped for another reason (no stored
    proposal, the picture lacking a chosen channel, unreadable, not saved) and others
    were not; 1 when every image was skipped for another reason."""
    failed = [s for s in report.skipped if s.kind != "nothing_to_fill"]
    if not failed:
        return 0
    return 2 if report.accepted or len(failed) < len(report.skipped) else 1


def _predict(
    args: argparse.Namespace, project: Project, records: list[ImageRecord]
) -> tuple[list[Skipped], int] | int:
    """``--predict``: store the active model's proposals of ``records`` that lack one;
    the images whose picture could not be read and how many were predicted, or the exit
    code of an interrupt."""
    from annotator.ml.device import configure_cpu_threads
    from annotator.services.accepting import propose_missing
    from annotator.services.proposals import PredictedImage

    configure_cpu_threads()
    line = ProgressLine("predicting")
    made: list[PredictedImage] = []
    try:
        unread = propose_missing(
            project, records, device=args.device or "auto", progress=line, made=made
        )
    except KeyboardInterrupt:  # the proposals made so far are stored
        from annotator.cli import EXIT_INTERRUPTED

        line.finish()
        print(
            f"annotator: interrupted while predicting, after {len(made)} proposal(s), which "
            "stay in the project; nothing was accepted",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    line.finish()
    return unread, len(made)


def _accept_summary(report: AcceptReport, left_out: int, predicted: int = 0) -> str:
    """One line: what was accepted, and how many images were skipped for what."""
    n = len(report.accepted)
    first = (
        f"predicted {predicted} image{'' if predicted == 1 else 's'}, then " if predicted else ""
    )
    line = first + (
        f"accepted the proposals of model v{report.version} into {n} "
        f"image{'' if n == 1 else 's'} ({report.pixels_filled} pixels filled)"
    )
    if report.skipped:
        why: dict[str, int] = {}
        for s in report.skipped:
            why[_SKIP_WORDS[s.kind]] = why.get(_SKIP_WORDS[s.kind], 0) + 1
        parts = ", ".join(f"{k} {words}" for words, k in why.items())
        line += f"; skipped {len(report.skipped)}: {parts}"
    if left_out:
        line += f"; left out {left_out} done image{'' if left_out == 1 else 's'} (--all)"
    return line


#: How the summary counts the images skipped for each reason (``services.accepting``).
_SKIP_WORDS = {
    "no_proposal": "without a stored proposal",
    "other_version": "with a proposal of another version",
    "nothing_to_fill": "with nothing left to fill",
    "unreadable": "unreadable",
    "not_saved": "not saved",
    "lacks_channels": "lacking a chosen channel",
}


def _skipped_lines(args: argparse.Namespace, report: AcceptReport, active: int | None) -> list[str]:
    """The lines (stderr) that name the images skipped, per reason, and what to do."""
    every = getattr(args, "verbose", False)
    lines: list[str] = []
    missing = report.skipped_of("no_proposal") + report.skipped_of("other_version")
    if missing:
        if report.version == active:
            named = [s.record.name for s in missing]
            whom = f" {option_names('--images', named)}" if len(named) <= NAMED_IN_COMMAND else ""
            how = (
                f"store them with `annotator predict {path_word(args.project)}{whom}`, "
                "or accept with --predict"
            )
        else:
            named = [s.record.name for s in missing]
            whom = f" {option_names('--images', named)}" if len(named) <= NAMED_IN_COMMAND else ""
            how = (
                f"store them with `annotator predict {path_word(args.project)}{whom} "
                f"--version {report.version}` (model v{report.version} is not the active one)"
            )
        lines.append(
            _names_line(missing, f"no stored proposal of model v{report.version}", how, every)
        )
    lacking = report.skipped_of("lacks_channels")
    if lacking:
        names = [s.record.name for s in lacking]
        note = lacking_note(
            names,
            report.choice,
            f"get no proposal of model v{report.version}",
            len(names) if every else NAMES_SHOWN,
        )
        lines.append(f"skipped: {note}")
    for kind in ("unreadable", "not_saved"):
        for s in report.skipped_of(kind) if every else report.skipped_of(kind)[:NAMES_SHOWN]:
            lines.append(f"skipped {s.record.name}: {s.reason}")
        rest = len(report.skipped_of(kind)) - NAMES_SHOWN
        if rest > 0 and not every:
            lines.append(f"... and {rest} more {_SKIP_WORDS[kind]} (-v names them all)")
    full = report.skipped_of("nothing_to_fill")
    if full:
        lines.append(
            _names_line(
                full, "nothing left to accept", "every pixel the proposal covers is labelled", every
            )
        )
    return lines


def _names_line(skipped: Sequence[Skipped], what: str, then: str, every: bool) -> str:
    """``skipped 2 image(s), no stored proposal of model v3 (a.png, b.png): store them...``."""
    names = [s.record.name for s in skipped]
    shown = names if every else names[:NAMES_SHOWN]
    more = f" and {len(names) - len(shown)} more" if len(names) > len(shown) else ""
    return f"skipped {len(names)} image(s), {what} ({', '.join(shown)}{more}): {then}"


def _accept_json(report: AcceptReport) -> dict[str, object]:
    return {
        "version": report.version,
        "images_accepted": len(report.accepted),
        "pixels_filled": report.pixels_filled,
        "accepted": [
            {
                "id": a.record.id,
                "name": a.record.name,
                "pixels_filled": a.filled,
                "status": a.record.status.value,
                "label_source": a.record.label_source,
            }
            for a in report.accepted
        ],
        "skipped": [
            {"id": s.record.id, "name": s.record.name, "kind": s.kind, "reason": s.reason}
            for s in report.skipped
        ],
    }
