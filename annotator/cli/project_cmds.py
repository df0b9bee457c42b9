"""Project commands: new, add, status, classes, gui, demo."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from annotator.cli.json_output import print_json
from annotator.cli.options import (
    UsageError,
    channel_choice,
    class_id,
    class_name,
    class_names,
    colour,
    demo_images,
    path_word,
    second_of_two,
    whole_number,
)
from annotator.cli.progress import ProgressLine
from annotator.core.card import CardMetrics
from annotator.core.errors import AnnotatorError
from annotator.core.limits import convert_advice
from annotator.core.naming import one_line
from annotator.core.schema import untrainable
from annotator.core.status import ImageStatus

if TYPE_CHECKING:
    from collections.abc import Sequence

    from annotator.core.records import ImageRecord
    from annotator.core.schema import LabelClass
    from annotator.services.projects import Project


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("new", help="create a project")
    p.add_argument("project", type=Path, help="project folder to create")
    given = p.add_mutually_exclusive_group(required=True)
    given.add_argument(
        "--classes",
        type=class_names,
        metavar="NAMES",
        help="comma-separated class names; ids follow this order",
    )
    given.add_argument(
        "--classes-file",
        type=Path,
        metavar="FILE",
        help="one class name per line (a name may hold commas); ids follow this order",
    )
    p.set_defaults(handler=cmd_new)

    p = sub.add_parser("add", help="add image files or folders (recursively)")
    p.add_argument("project", type=Path)
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument(
        "--pages",
        choices=("auto", "slices", "channels"),
        default="auto",
        help="a TIFF of 2 to 8 bare pages (no axes recorded) is one picture of that many "
        "channels (auto, the default, unless the file was split before); slices: the slices "
        "of a short stack, one image each; channels: one picture even if split before "
        "(Z, T and more than 8 pages are split in every case)",
    )
    p.set_defaults(handler=cmd_add)

    p = sub.add_parser(
        "remove",
        help="remove images from the project (their label maps are kept in PROJECT/removed/)",
        description="Removes images, given by name or id, from the project: their records, "
        "label maps and proposals. The picture files are not touched. The label maps of "
        "images with labels are first copied into PROJECT/removed/<time>/ as a masks "
        "dataset: `annotator import P --format masks` of that folder brings them back once "
        "the pictures are added again.",
    )
    p.add_argument("project", type=Path)
    p.add_argument("images", nargs="*", metavar="IMAGE", help="image names (or ids)")
    p.add_argument(
        "--status",
        choices=[s.value for s in ImageStatus],
        help="remove every image of this status (with IMAGE names: those of them only)",
    )
    p.set_defaults(handler=cmd_remove)

    p = sub.add_parser("status", help="counts per status, classes, model versions")
    p.add_argument("project", type=Path)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--images",
        action="store_true",
        help="also list every image: id, status, label source, score, name (with --json: "
        "an image_list, with each picture's path)",
    )
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser(
        "classes",
        help="list the classes, or add, rename, recolour, remove, merge or move one (as the class panel does)",
        description="Without an option, lists the classes with their ids and colours. A "
        "renamed class means something new to the model: the next round must train from "
        "scratch (`annotator train P --from-scratch`). An added class is learnt by the next "
        "round. A removed or merged class rewrites every label map that holds later "
        "classes (all or nothing, even if stopped), and makes a new model version without "
        "the class's output, which the next rounds continue. A CLASS is its name or its "
        "id; id:N says an id where a class is named like another's id.",
    )
    p.add_argument("project", type=Path)
    change = p.add_mutually_exclusive_group()
    change.add_argument(
        "--add",
        nargs="+",
        type=class_name,
        metavar="NAME",
        help="add classes at the end (ids follow)",
    )
    change.add_argument(
        "--rename", nargs=2, metavar=("CLASS", "NEW"), help="rename CLASS (name or id) to NEW"
    )
    change.add_argument(
        "--color",
        nargs=2,
        action=second_of_two(colour),
        metavar=("CLASS", "'#RRGGBB'"),
        help="give CLASS (name or id) a colour; quote it: unquoted, the shell takes # for "
        "the start of a comment",
    )
    change.add_argument(
        "--remove",
        metavar="CLASS",
        help="remove CLASS (name or id): its pixels become unlabelled, later classes move "
        "down one id, and the active model loses its output",
    )
    change.add_argument(
        "--move",
        nargs=2,
        action=second_of_two(class_id),
        metavar=("CLASS", "ID"),
        help="give CLASS (name or id) the id ID, the classes between shifting one place "
        "(to match another dataset's ids); label maps and the active model follow",
    )
    change.add_argument(
        "--merge",
        nargs=2,
        metavar=("CLASS", "INTO"),
        help="merge CLASS into INTO (names or ids): its pixels become INTO, later classes "
        "move down one id, and the active model loses its output",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.count_hints = {
        "--color": "quote the colour, or the shell drops it as a comment: --color CLASS '#RRGGBB'"
    }
    p.set_defaults(handler=cmd_classes)

    p = sub.add_parser(
        "channels",
        help="show or choose which channels of the pictures are shown and used by new models",
    )
    p.add_argument("project", type=Path)
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--use",
        type=channel_choice,
        metavar="N,N,N",
        help="channels counted from 1, in order: red, green, blue (4,3,2: false colour), "
        "or one shown grey (5); new models trained from scratch take them. Up to 16: "
        "the first three are shown and models take all (1,2,3,4: BraTS' four sequences)",
    )
    which.add_argument(
        "--reset", action="store_true", help="no choice: the first three channels, as before"
    )
    p.set_defaults(handler=cmd_channels)

    p = sub.add_parser("gui", help="open the GUI (on a project, if given)")
    p.add_argument("project", type=Path, nargs="?")
    p.add_argument("--screenshot", type=Path, help="save a PNG of the window once it is painted")
    p.add_argument(
        "--quit-after-paint", action="store_true", help="quit once the window is painted"
    )
    p.set_defaults(handler=cmd_gui)

    p = sub.add_parser("demo", help="create a demo project of generated cell images")
    p.add_argument("project", type=Path, help="folder to create")
    p.add_argument(
        "--images",
        type=demo_images,
        default=None,
        metavar="N",
        help="number of images (default: the recipe's, 8)",
    )
    p.add_argument(
        "--labelled",
        type=whole_number(0),
        default=None,
        metavar="N",
        help="the first N images come with their exact labels, done (default 0)",
    )
    p.add_argument("--open", action="store_true", help="open it in the GUI afterwards")
    p.set_defaults(handler=cmd_demo)


def cmd_new(args: argparse.Namespace) -> int:
    from annotator.services.projects import create_project

    notes: list[str] = []
    if args.classes_file is not None:
        from annotator.formats.colour_table import read_class_table

        table = read_class_table(args.classes_file)
        names = list(table.names)
        if table.kind == "id list" and list(table.ids) != list(range(len(table.ids))):
            shown = ", ".join(f"{i} {n}" for i, n in zip(table.ids[:4], table.names[:4]))
            more = ", ..." if len(table.ids) > 4 else ""
            notes.append(
                f"{args.classes_file}: read as a table of '<id> <name>' lines ({shown}{more}): "
                "the classes in the order of their ids, numbered from 0; for names that "
                "begin with a number, give --classes instead"
            )
        if names[:1] == ["__ignore__"]:  # labelme's labels.txt: void, not a class
            names = names[1:]
            notes.append(
                f"{args.classes_file}: left out '__ignore__', labelme's name for pixels to "
                "ignore: a project has them as void, not as a class"
            )
        if not names:
            raise AnnotatorError(f"{args.classes_file}: no class names in it")
    else:
        names = args.classes  # (checked by its type: class_names)
    with create_project(args.project, names) as project:
        ids = ", ".join(f"{c.id}={c.name}" for c in project.schema.classes)
        print(f"created project {project.root} with classes {ids}")
        if (why := untrainable(len(project.schema))) is not None:
            notes.append(why)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from annotator.services.projects import open_project, remove_images, select_images

    if not args.images and args.status is None:
        raise UsageError("name the images to remove, or give --status")
    with open_project(args.project) as project:
        status = None if args.status is None else ImageStatus(args.status)
        chosen = select_images(project, args.images, status)
        report = remove_images(project, [r.id for r in chosen])
        print(report.summary())
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from annotator.services.projects import (
        IMAGE_FILE_SUFFIXES,
        masks_left_out_text,
        open_project,
    )

    with open_project(args.project) as project:
        gone = [p for p in args.paths if not os.path.lexists(p)]
        if len(gone) == len(args.paths):  # nothing to read: said before any work
            raise AnnotatorError(
                f"{', '.join(map(str, gone))}: no such file or folder"
                + ("" if len(gone) == 1 else " (none of them)")
            )
        progress = ProgressLine("adding")
        before = len(project.images())
        try:
            report = project.add_images(
                args.paths,
                progress=progress,
                unnamed_slices=args.pages == "slices",
                pages_as_channels=args.pages == "channels",
            )
        except KeyboardInterrupt:  # the images read so far are recorded (add_images)
            from annotator.cli import EXIT_INTERRUPTED

            progress.finish()
            added = len(project.images()) - before
            print(
                f"annotator: interrupted after adding {added} image(s), which stay in the "
                "project; run the same command again to add the rest",
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED
        found = report.added, report.skipped, report.errors, report.relinked, report.masks_left_out
        if not any(found):  # nothing to add there: an error, as an import finding no masks
            given = ", ".join(str(p) for p in args.paths)
            others = (
                f"; left out pictures of types not read: {report.other_pictures_text()}; "
                + convert_advice(report.other_pictures)
                if report.other_pictures
                else ""
            )
            raise AnnotatorError(
                f"{given}: no images found (the kinds read: {', '.join(IMAGE_FILE_SUFFIXES)})"
                + others
            )
        # a folder added again skips each file: counted, every name only with -v
        again = ["annotator -v add", *map(path_word, [args.project, *args.paths])]
        again += [] if args.pages == "auto" else ["--pages", args.pages]
        how = (
            f"`{' '.join(again)}`"
            if len(args.paths) <= 3  # (a command to copy; a long list is not retyped)
            else "the same command as `annotator -v add ...`"
        )
        for line in report.skipped_lines(every=getattr(args, "verbose", False), how=how):
            print(line, file=sys.stderr)
        print(
            f"added {len(report.added)} image(s), skipped {len(report.skipped)}, "
            f"{len(report.errors)} unreadable; project has {len(project.images())} image(s)"
        )
        if report.relinked:
            first, where = report.relinked[0]
            print(
                f"  found {len(report.relinked)} image(s) whose file had gone at a new place "
                f"(first: {first} at {where}); their labels are kept"
            )
        if report.stacks:
            print(f"  {report.stacks_text()}")
        if report.joined_pictures:
            print(f"  {report.joined_pictures_text()}")
        if report.named_apart:
            print(f"  {report.named_apart_text()}")
        if report.pages_as_channels:
            file = report.pages_as_channels[0][0]  # (the one the sentence names)
            how = f"`annotator add {path_word(args.project)} {path_word(file)} --pages slices`"
            print(f"  {report.pages_as_channels_text(how)}")
        if report.channels_unused:
            how = f"'annotator channels {path_word(args.project)} --use ...'"
            print(f"  {report.channels_unused_text(how)}", file=sys.stderr)
        if report.nodata:
            print(f"  {report.nodata_text()}")
        split_file = (report.pages_split_before or ["FILE"])[0]  # (the one it names)
        if pages := report.pages_split_text(
            f"`annotator remove {path_word(args.project)} NAME`",
            f"`annotator add {path_word(args.project)} {path_word(split_file)} --pages channels`",
        ):
            print(f"  {pages}")
        if report.masks_left_out:
            how = f"`annotator import {path_word(args.project)} --format masks FOLDER`"
            print(f"  {masks_left_out_text(report, how, path_word)}", file=sys.stderr)
        if report.labels_split:
            how = f"`annotator import {path_word(args.project)} --format masks FOLDER`"
            print(f"  {report.labels_split_text(how, path_word)}", file=sys.stderr)
        if further := report.further_channels_text():
            print(f"  {further}", file=sys.stderr)
        if report.other_pictures:
            print(
                f"  left out pictures of types not read: {report.other_pictures_text()}; "
                + convert_advice(report.other_pictures),
                file=sys.stderr,
            )
    if report.errors and not report.added and not report.skipped:
        raise AnnotatorError(
            f"nothing added: the {len(report.errors)} file(s) found could not be read "
            "(each named above)"
        )
    return 2 if report.errors else 0


def cmd_channels(args: argparse.Namespace) -> int:
    from annotator.services.channels import (
        channel_counts,
        channels_note,
        choice_text,
        choose,
        counts_text,
        lacking_fate,
        left_as_before,
    )
    from annotator.services.projects import open_project

    changes = args.use is not None or args.reset
    with open_project(args.project, lock=changes) as project:
        if args.use is not None:  # (0-based channels: checked by its type, channel_choice)
            choose(project, args.use)
        elif args.reset:
            choose(project, ())
        choice = project.channel_choice()
        counts = channel_counts(project)
        lacking = left_as_before(counts, choice)
        active = project.active_model()
    print(f"channels  {choice_text(choice)}" + ("" if choice else " (no choice)"))
    print(f"pictures  {counts_text(counts)}")
    if lacking:
        print(
            f"  {lacking} picture{'' if lacking == 1 else 's'} lack{'s' if lacking == 1 else ''} "
            f"a chosen channel: shown as if there were no choice{lacking_fate(choice)}"
        )
    if active is not None and (note := channels_note(active.card, choice)):
        print(f"  model v{active.version} {note}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from annotator.services.projects import open_project
    from annotator.services.versions import stale_note

    with open_project(args.project, lock=False) as project:  # read-only: runs beside a writer
        summary = project.summary()
        stale = stale_note(project)
        images = [_image_json(project, r) for r in project.images()] if args.images else []
    if args.json:
        # ("images" is the count already: the list is "image_list")
        print_json({**summary, "image_list": images} if args.images else summary)
        return 0
    print(f"project  {summary['project']}")
    counts = summary["status"]
    print(
        f"images   {summary['images']}  (" + ", ".join(f"{k}: {v}" for k, v in counts.items()) + ")"
    )
    print("classes  " + ", ".join(f"{c['id']}={c['name']}" for c in summary["classes"]))
    if summary["models"]:
        shown = _versions_shown(summary["models"], summary["active_model"])
        older = len(summary["models"]) - len(shown)
        if older:  # (a project's life of rounds: hundreds of lines, the active one lost)
            print(f"models   {older} older version(s): annotator models lists every one")
        for m in shown:
            mark = "*" if m["version"] == summary["active_model"] else " "
            print(
                f"models {mark} v{m['version']}  {m['created_at'][:19]} UTC  "
                f"{_metrics(m['metrics'])}"
            )
    else:
        print("models   none yet")
    if images:
        print("\n".join(_image_table(images)))
    if stale:
        print(f"note: {stale}", file=sys.stderr)
    return 0


#: How many of the newest model versions ``status`` lists (the active one too, when older).
STATUS_VERSIONS = 10


def _versions_shown(models: list[dict[str, Any]], active: int | None) -> list[dict[str, Any]]:
    """The newest :data:`STATUS_VERSIONS` versions, and the active one wherever it is."""
    newest = models[-STATUS_VERSIONS:]
    kept = [m for m in models[:-STATUS_VERSIONS] if m["version"] == active]
    return kept + newest


def _image_table(images: list[dict[str, object]]) -> list[str]:
    """The lines of ``status --images``: each column as wide as its widest cell (a label
    source such as ``import:labelme`` pushed the scores and names out of line)."""
    rows = [
        (
            str(i["id"]),
            str(i["status"]),
            str(i["label_source"] or "-"),
            "" if i["score"] is None else f"{i['score']:.3f}",
            f"{one_line(str(i['name']))}{'  (picture missing)' if i['missing'] else ''}",
        )
        for i in images
    ]
    header = ("id", "status", "labels", "score", "name")
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(4)]
    return [
        f"{r[0]:>{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]:>{widths[3]}}  "
        f"{r[4]}"
        for r in [header, *rows]
    ]


def _image_json(project: Project, record: ImageRecord) -> dict[str, object]:
    """One image of ``status --images``: what a script needs to pick and open it."""
    path = project.image_path(record)
    return {
        "id": record.id,
        "name": record.name,
        "path": str(path),
        "missing": not path.is_file(),
        "status": record.status.value,
        "label_source": record.label_source or None,  # (None: no labels yet)
        "labelled_pixels": record.labelled_pixels,
        "score": record.score,
    }


def cmd_classes(args: argparse.Namespace) -> int:
    from annotator.services.projects import open_project

    changes = any(
        v is not None
        for v in (args.add, args.rename, args.color, args.remove, args.merge, args.move)
    )
    if args.json and changes:
        raise UsageError("--json is for the listing of classes (without an option)")
    made: list[str] = []  # the change, once made; then what an interrupt cut short, if any
    try:
        with open_project(args.project, lock=changes) as project:
            _change_classes(project, args, made)
            classes = project.schema.classes
        _show_classes(args, classes, changes)
    except KeyboardInterrupt:  # (as train's "interrupted after model vN was published")
        from annotator.cli import EXIT_INTERRUPTED, interrupts

        taken_out = any(v is not None for v in (args.remove, args.merge, args.move))
        if made:
            stopped = made[1] if len(made) > 1 else "nothing was left undone"
            said = f"after the change was made ({made[0]}); {stopped}"
        elif taken_out:  # committed all or nothing (services.class_changes)
            said = "before the change was made: the classes and the labels are unchanged"
        else:
            raise
        print(f"annotator: interrupted{interrupts.by()} {said}", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def _show_classes(args: argparse.Namespace, classes: Sequence[LabelClass], changes: bool) -> None:
    """The listing (without a change), and the note on a class list that cannot train."""
    if args.json:
        print_json([{"id": c.id, "name": c.name, "color": c.color} for c in classes], indent=None)
        return
    if not changes:
        for c in classes:
            print(f"{c.id:>4}  {c.color}  {c.name}")
    if (why := untrainable(len(classes))) is not None:
        print(f"note: {why}", file=sys.stderr)


def _change_classes(project: Project, args: argparse.Namespace, made: list[str]) -> None:
    """Make the change ``args`` asks for (if any) and say it; ``made`` gets what was
    changed as soon as it is, then what an interrupt after it cut short (if it did)."""
    from annotator.services.class_changes import ClassChangeInterrupted, class_by_name

    schema = project.schema
    if args.add is not None:
        for name in args.add:
            schema = schema.with_class(name)
        project.set_schema(schema)
        made.append(f"added {', '.join(args.add)}")
        print(f"added {', '.join(args.add)}; the next round learns them")
    elif args.rename is not None:
        cls = class_by_name(schema, args.rename[0])
        renamed = schema.renamed(cls.id, args.rename[1])
        now = renamed.classes[cls.id].name  # (as stored: trimmed, in one Unicode form)
        if now == cls.name:
            print(f"the class is named {now!r} already; nothing changed")
            return
        project.set_schema(renamed)
        made.append(f"renamed {cls.name!r} to {now!r}")
        from annotator.services.versions import rename_effect

        active = project.active_model()
        model = active.card.class_names if active is not None else None
        after = {
            "none": "",
            "unknown": "; the model has not learnt that class yet: the next round does",
            "same": "; the model still fits (the same name in other letters)",
            "back": f"; model v{active.version if active else 0} was trained with that name: "
            "training goes on from it",
        }.get(
            rename_effect(model, cls.id, cls.name, renamed.names),
            "; the next round must train from scratch "
            f"(`annotator train {path_word(args.project)} --from-scratch`)",
        )
        print(f"renamed {cls.name!r} to {now!r}{after}")
    elif args.color is not None:
        cls = class_by_name(schema, args.color[0])
        recoloured = schema.recoloured(cls.id, args.color[1])
        project.set_schema(recoloured)
        made.append(f"{cls.name!r} is now {args.color[1]}")
        alike = recoloured.looking_alike(cls.id)
        print(f"{cls.name!r} is now {args.color[1]}")
        if alike:
            print(
                f"note: {alike[0]!r} has the same colour, or one hard to tell from it: "
                "choose another to tell the two apart on an image"
            )
    elif any(v is not None for v in (args.remove, args.merge, args.move)):
        from annotator.services.class_changes import move_class, take_out_class

        line = ProgressLine("rewriting labels")

        def progress(done: int, total: int, message: str) -> None:
            if total:
                line(done, total, message)
            else:  # a step of its own (the model), before the maps
                print(f"{message}…", file=sys.stderr, flush=True)

        try:
            if args.move is not None:
                to = args.move[1].strip()
                if not to.isdecimal() or int(to) >= len(schema):
                    raise AnnotatorError(
                        f"--move: {args.move[1]!r} is no id of this project (0 to "
                        f"{len(schema) - 1})"
                    )
                moved = class_by_name(schema, args.move[0])
                what = f"moved {moved.name!r} to id {to}"
                result = move_class(project, moved, int(to), progress)
            else:
                gone = class_by_name(
                    schema, args.remove if args.remove is not None else args.merge[0]
                )
                into = None if args.merge is None else class_by_name(schema, args.merge[1])
                what = (
                    f"removed {gone.name!r}"
                    if into is None
                    else (f"merged {gone.name!r} into {into.name!r}")
                )
                result = take_out_class(project, gone, into, progress)
        except ClassChangeInterrupted as exc:  # made; only what follows was cut short
            line.finish()
            made.extend([what, exc.stopped])
            if exc.result is not None:
                print(exc.result.summary())
            raise
        made.append(what)
        print(result.summary())


def no_display(environ: dict[str, str] | None = None, platform: str | None = None) -> str:
    """Why the window cannot open here ("" when it can): on Linux without a display Qt
    aborts the process (exit 134) with lines of its own instead of an error."""
    env = os.environ if environ is None else environ
    if not (platform or sys.platform).startswith("linux") or env.get("QT_QPA_PLATFORM"):
        return ""
    if env.get("WAYLAND_DISPLAY"):
        return ""
    if display := env.get("DISPLAY"):
        if x_display_answers(display) is False:  # (a stale ssh -X session, a tmux of a
            return (  # desktop logged out of): Qt blamed a missing library, and aborted
                f"the display DISPLAY={display} does not answer (a session that has "
                "ended?); run it in a desktop session, under xvfb-run, or with "
                "QT_QPA_PLATFORM=offscreen for scripts; every command but gui works "
                "without one"
            )
        return ""
    return (
        "no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set); "
        "run it in a desktop session, under xvfb-run, or with QT_QPA_PLATFORM=offscreen "
        "for scripts; every command but gui works without one"
    )


#: How long the X display may take to take a connection.
X_PROBE_S = 2.0


def x_display_answers(display: str) -> bool | None:
    """Whether the X server of ``display`` (``:0``, ``unix:1``, ``localhost:10.0``) takes
    a connection: its socket in ``/tmp/.X11-unix`` (Linux's abstract one first) or TCP
    port 6000 + N; None when ``display`` is written in a way not known here (then Qt
    decides)."""
    import re
    import socket

    match = re.fullmatch(r"([^:/]*):(\d+)(?:\.\d+)?", display)
    if match is None:
        return None
    host, number = match.group(1), int(match.group(2))
    if host in ("", "unix"):
        path = f"/tmp/.X11-unix/X{number}"
        for address in ("\0" + path, path):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(X_PROBE_S)
                try:
                    sock.connect(address)
                except OSError:
                    continue
                return True
        if host == "unix":
            return False
        host = "localhost"  # (":N" may be served over TCP only)
    try:
        with socket.create_connection((host, 6000 + number), timeout=X_PROBE_S):
            return True
    except OSError:
        return False


def _metrics(metrics: dict) -> str:
    """A version's validation figures in words (``--json`` has them all)."""
    words = []
    m = CardMetrics.from_dict(metrics)
    if m.not_scored is not None:
        words.append(f"not scored: {m.not_scored}")
    else:
        if m.pixel_accuracy is not None:
            words.append(f"pixel accuracy {m.pixel_accuracy:.3f}")
        if (score := m.score_text(3, "mean IoU")) is not None:
            words.append(score)
    if m.loss is not None:
        words.append(f"loss {m.loss:.4f}")
    return ", ".join(words) or "no validation figures"


def cmd_gui(args: argparse.Namespace) -> int:
    if getattr(args, "project", None) is not None:
        _check_openable(args.project)
    refusal = no_display()
    if refusal:
        raise AnnotatorError(refusal)
    try:
        # Qt is loaded here, not where the window is made: a missing PySide6 or a system
        # library Qt needs (a server without a desktop) is then one line.
        importlib.import_module("PySide6.QtWidgets")
    except ImportError as exc:
        raise AnnotatorError(
            f"the GUI cannot start: Qt cannot be loaded ({exc}); install it with "
            "`pip install 'PySide6-Essentials>=6.6,<6.12'`, and on a machine without a "
            "desktop the system libraries it needs (libEGL, libxkbcommon, libfontconfig); "
            "every command but gui works without Qt"
        ) from None
    try:
        from annotator.gui.app import run_gui
    except ImportError as exc:
        raise AnnotatorError(f"the GUI cannot start: {exc}") from None
    return run_gui(
        getattr(args, "project", None),
        screenshot=getattr(args, "screenshot", None),
        quit_after_paint=getattr(args, "quit_after_paint", False),
    )


def _check_openable(root: Path) -> None:
    """Refuse, before Qt starts, a project the window could not open (no such folder,
    not a project, a damaged class table; busy in another process: exit code 75, with
    ``--wait`` waited for), in one line as the other commands do. The window's box would
    say it where no one may look (a script's ``--quit-after-paint``)."""
    from annotator.services.project_lock import wait_for_locks
    from annotator.services.projects import open_project

    with open_project(root) as project:
        project.schema  # noqa: B018 (as the window reads it)
    wait_for_locks(0)  # the window's own opens refuse at once (in a box), never freeze it


def cmd_demo(args: argparse.Namespace) -> int:
    from annotator.services.demo import create_demo_project
    from annotator.services.projects import is_project, open_project

    existed = is_project(args.project)
    if not existed and args.labelled is not None:  # (a value wrong with --images: usage)
        from annotator.services.demo import demo_recipe

        n = args.images if args.images is not None else int(demo_recipe()["images"]["count"])
        if args.labelled > n:
            raise UsageError(f"--labelled {args.labelled}: more than the {n} images made")
    project_dir = create_demo_project(args.project, n_images=args.images, labelled=args.labelled)
    if existed:  # opened as it is: a demo made earlier (or stopped part-way), or any project
        with open_project(project_dir, lock=False) as project:
            n = len(project.images())
        asked = [
            f"--{name} {value}"
            for name, value in (("images", args.images), ("labelled", args.labelled))
            if value is not None
        ]
        given = (
            f" ({' and '.join(asked)} not applied: they apply only to a new demo project)"
            if asked
            else ""
        )
        print(f"opened the existing project {project_dir}: {n} image(s){given}")
    else:
        print(f"demo project ready: {project_dir}")
    if args.open:
        args.project = project_dir
        return cmd_gui(args)
    return 0
