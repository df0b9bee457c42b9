"""The ``annotator`` command: a second front end over the same services as the GUI.

Each area of commands lives in its own module with a ``register(subparsers)`` function;
handlers import heavy libraries (torch, Qt) only when they run, so ``annotator --help``
stays fast. User errors print one line on stderr and exit 1 (75 when the project is busy:
another process holds its lock; ``--wait SECONDS`` waits for it); a bug prints one line,
writes the traceback to a crash log and exits 70 - never a traceback on the terminal.
Ctrl+C exits 130; SIGTERM (a batch system's time limit, ``kill``) stops a command as
Ctrl+C does and exits 143. Under ``torchrun`` each message is said once: by rank 0, or by the
helper rank that alone met the failure.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import logging
import os
import shlex
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence

from annotator import __version__
from annotator.cli import interrupts
from annotator.cli.options import CommandParser, wait_seconds
from annotator.cli.progress import end_open_line
from annotator.core import torchrun
from annotator.core.errors import AnnotatorError, InterruptedAfterPublish, SaidElsewhere
from annotator.services.project_lock import LockInfo, ProjectLocked, wait_for_locks

# Modules under annotator.cli that add sub-commands, in the order they appear in --help.
COMMAND_MODULES: tuple[str, ...] = ("project_cmds", "ml_cmds", "format_cmds", "bench_cmds")

EXIT_USER_ERROR = 1
EXIT_INTERNAL = 70
EXIT_BUSY = 75  # EX_TEMPFAIL: another process holds the project's lock; try again later
EXIT_INTERRUPTED = interrupts.EXIT_INTERRUPTED  # 143 instead after a SIGTERM


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="annotator",
        description="Per-pixel ground truth for semantic segmentation, with a network (a "
        "small FCN by default) that learns while you label. Without a command, opens the GUI.",
    )
    parser.add_argument("--version", action="version", version=f"annotator {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    parser.add_argument(
        "--wait", type=wait_seconds, default=0.0, metavar="SECONDS", help=_WAIT_HELP
    )
    # each command refuses an argument it does not know with its own usage
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"annotator.cli.{name}").register(sub)
    for name, command in sub.choices.items():  # also after the command: `train P --wait 60`
        if not name.startswith("bench"):  # (SUPPRESS: not given keeps the one before it)
            command.add_argument(
                "--wait",
                type=wait_seconds,
                default=argparse.SUPPRESS,
                metavar="SECONDS",
                help=_WAIT_HELP,
            )
    return parser


_WAIT_HELP = (
    "when another process has the project open (its lock), wait up to SECONDS for it "
    "to close instead of refusing at once (exit code 75 if it still has it)"
)


def _waiting(seconds: float, holder: object) -> None:
    """What ``--wait`` says, once, as it starts to wait for the project's lock."""
    who = f" ({holder.describe()})" if isinstance(holder, LockInfo) else ""
    print(
        f"annotator: the project is open in another process{who}; waiting up to "
        f"{seconds:g} s for it to close",
        file=sys.stderr,
        flush=True,
    )


def _crash_log(exc: BaseException) -> str:
    folder = os.environ.get("ANNOTATOR_LOG_DIR") or tempfile.gettempdir()
    path = os.path.join(folder, "annotator-crash.log")
    try:
        with open(path, "a", encoding="utf-8") as fh:
            # which run wrote it: the file is shared by every run (and user) of the machine
            when = time.strftime("%Y-%m-%d %H:%M:%S")
            fh.write(f"--- {when}  pid {os.getpid()}  {shlex.join(sys.argv)}\n")
            fh.write("".join(traceback.format_exception(exc)))
            fh.write("\n")
    except OSError:
        return "(could not write a crash log)"
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    if torchrun.is_helper_rank():  # the same command line in every process: rank 0
        with (  # prints its usage, --help or error
            open(os.devnull, "w") as null,
            contextlib.redirect_stdout(null),
            contextlib.redirect_stderr(null),
        ):
            args = parser.parse_args(argv)
    else:
        args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        from annotator.cli.project_cmds import cmd_gui

        args.project = None
        handler = cmd_gui
    else:
        handler = args.handler
    refusal = _torchrun_refusal(args.command)
    if refusal is not None:
        if refusal:  # rank 0 says it; the other ranks end quietly
            print(f"annotator: error: {refusal}", file=sys.stderr)
        return EXIT_USER_ERROR
    interrupts.reset()
    wait_for_locks(args.wait, _waiting)
    try:
        code = _run(handler, args)
    finally:
        wait_for_locks(0)
    return interrupts.exit_code() if code == EXIT_INTERRUPTED else code


def _run(handler: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    """The command's exit code; its errors said in one line."""
    try:
        if args.command in (None, "gui"):  # the app saves on SIGTERM, its own way
            return _call(handler, args)
        with interrupts.sigterm_interrupts():
            return _call(handler, args)
    except SaidElsewhere as exc:  # another process of the torchrun group printed why
        return EXIT_INTERRUPTED if exc.interrupted else EXIT_USER_ERROR
    except ProjectLocked as exc:  # busy, not wrong: the same command works later
        print(f"annotator: error: {_from_process(str(exc))}", file=sys.stderr)
        return EXIT_BUSY
    except AnnotatorError as exc:
        print(f"annotator: error: {_from_process(str(exc))}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt as exc:
        if not torchrun.is_helper_rank():  # Ctrl+C reaches every process: rank 0 says it
            said = (
                str(exc)
                if isinstance(exc, InterruptedAfterPublish | interrupts.Terminated)
                else "interrupted by SIGTERM"
                if interrupts.terminated()
                else "interrupted"
            )
            print(f"annotator: {said}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    except MemoryError:
        print(
            "annotator: error: out of memory; close other programs or work on fewer or "
            "smaller images",
            file=sys.stderr,
        )
        return EXIT_USER_ERROR
    except OSError as exc:
        if exc.errno not in _USER_ERRNOS:
            return _internal(args, exc)
        where = f"{exc.filename}: " if exc.filename else ""
        why = exc.strerror or str(exc)
        if exc.errno == errno.ENOSPC:  # "No space left on device" is not how people say it
            why = f"the disk is full ({why})"
        print(f"annotator: error: {where}{why}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Exception as exc:
        if _disk_full(exc):  # SQLite says so in its own words
            print(f"annotator: error: the disk is full ({exc})", file=sys.stderr)
            return EXIT_USER_ERROR
        if _peer_gone(exc):
            if not torchrun.is_helper_rank():  # (the process that stopped said why)
                print(
                    "annotator: error: another process of the torchrun group stopped; its "
                    "message above says why, unless it was killed (out of memory, kill -9): "
                    "then torchrun's report below names its exit code",
                    file=sys.stderr,
                )
            return EXIT_USER_ERROR
        return _internal(args, exc)


def _call(handler: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    try:
        return int(handler(args) or 0)
    finally:  # what is said next (an error, Ctrl+C) starts on a line of its own
        end_open_line()


#: How torch's process groups say that a peer process has gone (gloo, NCCL).
_PEER_GONE = (
    "Connection closed by peer",
    "Connection reset by peer",
    "remote worker crashing",
    "NCCL communicator was aborted",
)


def _peer_gone(exc: BaseException) -> bool:
    """Under torchrun: this process failed only because another one stopped (which
    said why itself), not for a reason of its own."""
    if torchrun.world_size() <= 1:
        return False
    return isinstance(exc, RuntimeError) and any(p in str(exc) for p in _PEER_GONE)


def _from_process(message: str) -> str:
    """An error a helper rank of a torchrun group says (one only it met): it names the
    process, unless the message does."""
    if not torchrun.is_helper_rank():
        return message
    process = f"process {torchrun.rank()} of {torchrun.world_size()}"
    return message if process in message else f"{process}: {message}"


def _torchrun_refusal(command: str | None) -> str | None:
    """Under ``torchrun`` (``WORLD_SIZE`` > 1) only ``train`` runs: every other command
    would run once per process, the helper ranks without the project's lock. Returns
    None (run it), the message (rank 0), or "" (another rank: quiet)."""
    if torchrun.world_size() <= 1 or command == "train":
        return None
    if torchrun.is_helper_rank():
        return ""
    shown = command or "gui"
    return (
        f"only 'annotator train' runs under torchrun; run 'annotator {shown}' once, "
        "without torchrun"
    )


# Operating-system errors that are the user's situation (full disk, read-only folder,
# permissions, a path that cannot be: too long, through a file, missing), said in one
# line; other OSErrors are bugs and go to the crash log.
_USER_ERRNOS = frozenset(
    getattr(errno, n)
    for n in (
        "ENOSPC",
        "EDQUOT",
        "EROFS",
        "EACCES",
        "EPERM",
        "ENAMETOOLONG",
        "ENOTDIR",
        "EISDIR",
        "ENOENT",
        "ELOOP",
    )
    if hasattr(errno, n)
)


def _disk_full(exc: BaseException) -> bool:
    import sqlite3

    return isinstance(exc, sqlite3.OperationalError) and "disk is full" in str(exc)


def _internal(args: argparse.Namespace, exc: Exception) -> int:
    """A bug: one line here, the traceback in the log."""
    if args.debug:
        raise exc
    where = _crash_log(exc)
    print(
        f"annotator: internal error: {type(exc).__name__}: {exc} (details in {where}; "
        "rerun with --debug to see them)",
        file=sys.stderr,
    )
    return EXIT_INTERNAL
