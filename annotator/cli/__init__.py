"""The ``annotator`` command: a second front end over the same services as the GUI.

Each area of commands lives in its own module with a ``register(subparsers)`` function;
handlers import heavy libraries (torch, Qt) only when they run, so ``annotator --help``
stays fast. User errors print one line on stderr and exit 1 (75 when the project is busy:
another process holds its lock; ``--wait SECONDS`` waits for it); a bug prints one line,
writes the traceback to a crash log and exits 70 - never a traceback on the terminal.
Warnings the package logs meanwhile are one line each, ``annotator: warning: ...``, and
OpenCV's own log lines are silenced (:mod:`annotator.cli.logs`; ``-v``/``--debug``
keep the developer's form).
Ctrl+C exits 130; SIGTERM (a batch system's time limit, ``kill``) and SIGHUP (a closed
terminal or ssh session) stop a command as Ctrl+C does and exit 143 and 129. With
``--json`` a command prints one JSON value on stdout, also when it fails (an object with
its ``error`` and ``exit_code``; see :mod:`annotator.cli.json_output`). Under
``torchrun`` each message is said once: by rank 0, or by the helper rank that alone met
the failure.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import errno
import importlib
import os
import shlex
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence

from annotator import __version__
from annotator.cli import interrupts, json_output, logs, options
from annotator.cli.options import CommandParser, Parser, wait_seconds
from annotator.cli.progress import end_open_line
from annotator.core import torchrun
from annotator.core.errors import AnnotatorError, InterruptedAfterPublish, SaidElsewhere
from annotator.services.project_lock import LockInfo, ProjectLocked, wait_for_locks

# Modules under annotator.cli that add sub-commands, in the order they appear in --help.
COMMAND_MODULES: tuple[str, ...] = (
    "project_cmds",
    "status_cmds",
    "ml_cmds",
    "format_cmds",
    "bench_cmds",
)

EXIT_USER_ERROR = 1
EXIT_INTERNAL = 70
EXIT_BUSY = 75  # EX_TEMPFAIL: another process holds the project's lock; try again later
EXIT_INTERRUPTED = interrupts.EXIT_INTERRUPTED  # 143 after a SIGTERM, 129 after a SIGHUP
EXIT_USAGE = 2  # argparse's: the command line itself was refused

#: Under torchrun, how long a helper rank that refused the command line (as rank 0 does,
#: and says) waits before it ends: torchrun stops the other processes as soon as one
#: ends, and rank 0 was at times stopped before it had printed the refusal.
HELPER_REFUSAL_WAIT_S = 10.0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="annotator",
        description="Per-pixel ground truth for semantic segmentation, with a network (a "
        "small FCN by default) that learns while you label. Without a command, opens the GUI.",
    )
    parser.add_argument("--version", action="version", version=f"annotator {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help=_VERBOSE_HELP)
    parser.add_argument("--debug", action="store_true", help=_DEBUG_HELP)
    parser.add_argument(
        "--wait", type=wait_seconds, default=0.0, metavar="SECONDS", help=_WAIT_HELP
    )
    # each command refuses an argument it does not know with its own usage
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"annotator.cli.{name}").register(sub)
    # also after the command: `train P --wait 60`, `add P dir -v` (SUPPRESS: not given
    # there keeps what was given before it)
    for name, command in sub.choices.items():
        command.add_argument(
            "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=_VERBOSE_HELP
        )
        command.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=_DEBUG_HELP
        )
        if not name.startswith("bench"):
            command.add_argument(
                "--wait",
                type=wait_seconds,
                default=argparse.SUPPRESS,
                metavar="SECONDS",
                help=_WAIT_HELP,
            )
    return parser


_VERBOSE_HELP = "log more detail (before or after the command)"
_DEBUG_HELP = "show tracebacks of internal errors (before or after the command)"


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


#: The crash log's size past which it is moved to ``annotator-crash.log.1`` (replacing
#: that one) before the next crash is written: it was appended to for ever.
CRASH_LOG_BYTES = 1 << 20


def _crash_log(exc: BaseException) -> str:
    folder = os.environ.get("ANNOTATOR_LOG_DIR") or tempfile.gettempdir()
    path = os.path.join(folder, "annotator-crash.log")
    try:
        with contextlib.suppress(FileNotFoundError):  # kept as the app's log is: 1 MB, one old
            if os.path.getsize(path) > CRASH_LOG_BYTES:
                os.replace(path, path + ".1")
        # (a name that is not UTF-8 on the command line must not break the last resort)
        with open(path, "a", encoding="utf-8", errors="backslashreplace") as fh:
            # which run wrote it: the file is shared by every run (and user) of the machine
            when = time.strftime("%Y-%m-%d %H:%M:%S")
            fh.write(f"--- {when}  pid {os.getpid()}  {shlex.join(sys.argv)}\n")
            fh.write("".join(traceback.format_exception(exc)))
            fh.write("\n")
    except OSError:
        return "(could not write a crash log)"
    return path


#: The error handler of the CLI's output: what cannot be written is written escaped,
#: a byte of a name that is not UTF-8 (a surrogate escape) as ``\xe9``, as the messages
#: that name such a file write it (``core.folders.printable``).
PRINTABLE_ERRORS = "annotator-printable"


def _printable_bytes(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    text = exc.object[exc.start : exc.end]
    out = "".join(
        f"\\x{ord(c) - 0xDC00:02x}"
        if 0xDC80 <= ord(c) <= 0xDCFF
        else c.encode("ascii", "backslashreplace").decode("ascii")
        for c in text
    )
    return out, exc.end


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    program = argv is None  # the process's own command line (not a caller's main([...]))
    argv = sys.argv[1:] if argv is None else list(argv)
    if program:  # a file name that is not UTF-8 prints as \xe9 (stdout refused it)
        # (started with stdout or stderr closed, `2>&-`, a launcher's: Python has None
        # there, and the first progress line was an internal error after the work)
        if sys.stdout is None:
            sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
        if sys.stderr is None:
            sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
        codecs.register_error(PRINTABLE_ERRORS, _printable_bytes)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(AttributeError, ValueError):  # (not a text file)
                stream.reconfigure(errors=PRINTABLE_ERRORS)  # type: ignore[union-attr]
    json_output.reset()
    if torchrun.is_helper_rank():  # the same command line in every process: rank 0
        with (  # prints its usage, --help or error
            open(os.devnull, "w") as null,
            contextlib.redirect_stdout(null),
            contextlib.redirect_stderr(null),
        ):
            try:
                args = parser.parse_args(argv)
            except SystemExit as exc:
                if exc.code not in (0, None):  # refused: torchrun would end rank 0 as
                    time.sleep(HELPER_REFUSAL_WAIT_S)  # this one ends, before it said why
                raise
    else:
        options.refusal = None
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # refused (a bad option value...): --json still says so
            command = _command_parser(parser, argv)  # (one that has --json)
            if exc.code not in (0, None) and command is not None and json_output.asked(argv):
                failure = json_output.Failure(options.refusal or "bad arguments", EXIT_USAGE)
                _print_failure(command.get_default("json_failure"), failure)
            raise
    global _own_process
    _own_process = program
    with logs.to_stderr(verbose=args.verbose, debug=args.debug):
        code = _main(args)
    return code


#: Whether the command runs as this process's own command line (``annotator ...``), not
#: as a caller's ``main([...])``: only then are stop signals ignored once it has ended.
_own_process = False


def _ignore_stop_signals_from_now() -> None:
    """The command has ended: what is left is saying how, the logs' and the locks'
    release and the interpreter's tear-down (a second or so once torch is loaded). A
    Ctrl+C then would turn a command that did its work into exit code 130, with a
    traceback out of the logs' tear-down, or no word at all (Python hands SIGINT back to
    its default as it finalizes). So the stop signals are ignored from here, unless
    another thread still runs (the interpreter waits for it: Ctrl+C must still be able
    to stop that)."""
    import signal
    import threading

    main_thread = threading.main_thread()
    if threading.current_thread() is not main_thread:
        return
    if any(t is not main_thread and not t.daemon for t in threading.enumerate()):
        return
    for signum in (signal.SIGINT, *interrupts.STOP_SIGNALS):
        with contextlib.suppress(OSError, ValueError):
            signal.signal(signum, signal.SIG_IGN)


def _main(args: argparse.Namespace) -> int:
    """Run the command ``args`` names; its exit code."""
    if args.command is None:
        from annotator.cli.project_cmds import cmd_gui

        args.project = None
        handler = cmd_gui
    else:
        handler = args.handler
    refusal = _torchrun_refusal(args.command)
    if refusal is not None:
        if refusal:  # rank 0 says it
            print(f"annotator: error: {refusal}", file=sys.stderr)
        else:  # the other ranks end quietly once rank 0 had the time to say it: torchrun
            # ends every process as soon as one has failed, rank 0 too, before it said why
            time.sleep(HELPER_REFUSAL_WAIT_S)
        return EXIT_USER_ERROR
    interrupts.reset()
    global _said, _published
    _said, _published = None, None
    wait_for_locks(args.wait, _waiting)
    try:
        code = _run(handler, args)
    finally:
        wait_for_locks(0)
    code = interrupts.exit_code() if code == EXIT_INTERRUPTED else code
    if (
        code != 0
        and getattr(args, "json", False)
        and not json_output.printed()
        and not torchrun.is_helper_rank()
    ):
        stopped = code == EXIT_INTERRUPTED or interrupts.terminated()
        said = _said or (f"interrupted{interrupts.by()}" if stopped else f"exit code {code}")
        failure = json_output.Failure(said, code, interrupted=stopped, published=_published)
        _print_failure(getattr(args, "json_failure", None), failure)
    return code


#: The line ``_run`` said about how the command ended (without ``annotator: error: ``),
#: and the version a round had published when it was interrupted (for ``--json``).
_said: str | None = None
_published: int | None = None


def _say(message: str, prefix: str = "annotator: error: ") -> None:
    """Say how the command ended, in one line on stderr (as best it can: a closed
    terminal does not change the exit code)."""
    global _said
    _said = message
    with contextlib.suppress(OSError, ValueError):
        print(f"{prefix}{message}", file=sys.stderr)


def _print_failure(make: json_output.FailureObject | None, failure: json_output.Failure) -> None:
    """``--json``: the object a command prints when it fails before it printed its own."""
    with contextlib.suppress(OSError, ValueError):
        json_output.print_json((make or json_output.failure_object)(failure))


def _command_parser(parser: argparse.ArgumentParser, argv: Sequence[str]) -> Parser | None:
    """The parser of the command that ``argv`` names, if it has ``--json`` (else None)."""
    commands = next(
        (a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)), {}
    )
    for arg in argv:
        if arg == "--":
            break
        if arg in commands:
            command = commands[arg]
            return command if "--json" in command._option_string_actions else None
    return None


def _run(handler: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    """The command's exit code; its errors said in one line."""
    global _said, _published
    try:
        if args.command in (None, "gui"):  # the app saves on SIGTERM and SIGHUP, its own way
            return _call(handler, args)
        with interrupts.stop_signals_interrupt():
            return _call(handler, args)
    except SaidElsewhere as exc:  # another process of the torchrun group printed why
        _said = str(exc) or "another process of the torchrun group stopped; its message says why"
        return EXIT_INTERRUPTED if exc.interrupted else EXIT_USER_ERROR
    except ProjectLocked as exc:  # busy, not wrong: the same command works later
        _say(_from_process(str(exc)))
        return EXIT_BUSY
    except options.UsageError as exc:  # the command line, as argparse refuses one
        command = args.command or "gui"
        _say(f"{exc} (see `annotator {command} --help`)")
        return EXIT_USAGE
    except AnnotatorError as exc:
        _say(_from_process(str(exc)))
        return EXIT_USER_ERROR
    except KeyboardInterrupt as exc:
        if isinstance(exc, InterruptedAfterPublish):
            _published = exc.version
        if not torchrun.is_helper_rank():  # Ctrl+C reaches every process: rank 0 says it
            said = (
                str(exc)
                if isinstance(exc, interrupts.Terminated)
                else f"{exc}{interrupts.by()}"
                if isinstance(exc, InterruptedAfterPublish)
                else f"interrupted{interrupts.by()}"
            )
            _say(said, "annotator: ")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader went away (| head); after SIGTERM or SIGHUP (a closed terminal) the
        # command stopped all the same
        return EXIT_INTERRUPTED if interrupts.terminated() else 0
    except MemoryError:
        _say("out of memory; close other programs or work on fewer or smaller images")
        return EXIT_USER_ERROR
    except OSError as exc:
        if exc.errno in _GONE_ERRNOS and interrupts.terminated():  # the terminal closed
            return EXIT_INTERRUPTED  # (SIGHUP) while the command said how it stopped
        if exc.errno not in _USER_ERRNOS:
            return _internal(args, exc)
        where = f"{exc.filename}: " if exc.filename else ""
        why = exc.strerror or str(exc)
        if exc.errno == errno.ENOSPC:  # "No space left on device" is not how people say it
            why = f"the disk is full ({why})"
        _say(f"{where}{why}")
        return EXIT_USER_ERROR
    except Exception as exc:
        if _disk_full(exc):  # SQLite says so in its own words
            _say(f"the disk is full ({exc})")
            return EXIT_USER_ERROR
        if _peer_gone(exc):
            if not torchrun.is_helper_rank():  # (the process that stopped said why)
                _say(
                    "another process of the torchrun group stopped; its message above "
                    "says why, unless it was killed (out of memory, kill -9): then "
                    "torchrun's report below names its exit code"
                )
            return EXIT_USER_ERROR
        return _internal(args, exc)


#: How a write to a terminal that has gone fails (a closed ssh session: EPIPE).
_GONE_ERRNOS = frozenset({errno.EIO, errno.EPIPE})


def _call(handler: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    try:
        return int(handler(args) or 0)
    finally:
        if _own_process:  # ended, by its return or by what it raised (said next)
            _ignore_stop_signals_from_now()
        end_open_line()  # what is said next (an error, Ctrl+C) starts on a line of its own


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
    _say(
        f"{type(exc).__name__}: {exc} (details in {where}; rerun with --debug to see them)",
        "annotator: internal error: ",
    )
    return EXIT_INTERNAL
