"""Argument types shared by the commands: refused by argparse in one line, with the
command's usage, before any work starts; and the words of the commands the CLI suggests.

A value that is wrong by itself (out of its range, not of its form: ``--steps 0``,
``--split a,b``, ``--arch unett``) is refused here, exit code 2 with the command's usage
(``annotator train: error: argument --steps: '0' is not a whole number of 1 or more``);
what only the project can tell (a class name it lacks) is the command's error, exit 1."""

from __future__ import annotations

import argparse
import math
import os
import shlex
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from annotator.core.errors import AnnotatorError

#: What the last parser to refuse the command line said (for ``--json``'s object).
refusal: str | None = None


class UsageError(AnnotatorError):
    """Options that do not go together (``--voc-images`` with a masks export): the
    command line itself is wrong, as argparse's own refusals, so the exit code is 2."""


class Parser(argparse.ArgumentParser):
    """A parser that remembers what it refused, for the object ``--json`` prints then."""

    #: Said after argparse's "expected N arguments" for an option (``--color``): what
    #: else was probably meant.
    count_hints: dict[str, str]

    def error(self, message: str) -> NoReturn:
        global refusal
        for option, hint in getattr(self, "count_hints", {}).items():
            if message.startswith(f"argument {option}: expected "):
                message = f"{message}; {hint}"
        refusal = message
        super().error(message)


class CommandParser(Parser):
    """The parser of one sub-command (``annotator train``...): an argument it does not
    know (``--stepz 3``) is refused with this command's usage, exit code 2.

    argparse hands a sub-command's unknown arguments back to the top-level parser, which
    refused them with its own usage (``annotator [-h] ... COMMAND ...``), leaving out the
    options the user was looking for.

    Names (IMAGE..., PATH...) are taken wherever they stand among the options: ``mark P
    --done NAME`` as ``mark P NAME --done``. argparse took a ``nargs="*"`` positional as
    empty before the first option and refused the names after it as unrecognized (and
    its ``parse_intermixed_args`` drops the ``--`` before ``-x.png``)."""

    def parse_known_args(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        namespace: argparse.Namespace | None = None,
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        extras = self._take_names(parsed, extras)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}{self._near(extras)}")
        return parsed, extras

    def _take_names(self, parsed: argparse.Namespace, extras: list[str]) -> list[str]:
        """``extras`` left once the names among them are added to the command's
        positional of any number of values: the words up to the first unknown option
        (which is refused as unrecognized, with what follows it); after a ``--``, every
        word is a name."""
        varying = [a for a in self._actions if not a.option_strings and a.nargs in ("*", "+")]
        if not extras or len(varying) != 1:
            return extras
        cut = extras.index("--") if "--" in extras else len(extras)
        option = next((k for k, w in enumerate(extras[:cut]) if self._option_like(w)), None)
        names = extras[:cut] + extras[cut + 1 :] if option is None else extras[:option]
        left = [] if option is None else extras[option:]
        action = varying[0]
        try:
            values = [self._get_value(action, word) for word in names]
        except argparse.ArgumentError as exc:
            self.error(str(exc))
        setattr(parsed, action.dest, [*(getattr(parsed, action.dest, None) or []), *values])
        return left

    def _option_like(self, word: str) -> bool:
        """Whether argparse reads ``word`` as an option (``-x``, not ``-1`` or ``-``)."""
        if not word.startswith(tuple(self.prefix_chars)) or word in self.prefix_chars:
            return False
        return not (
            self._negative_number_matcher.match(word) and not self._has_negative_number_optionals
        )

    def _near(self, extras: Sequence[str]) -> str:
        """`` (did you mean --steps?)`` for the first unknown option near a known one."""
        import difflib

        known = list(self._option_string_actions)
        for extra in extras:
            if extra.startswith("--"):
                # (0.7: a letter or two off; at difflib's 0.6, --bogus was --verbose)
                word = extra.partition("=")[0]
                if word in known:  # known, yet unrecognised: it came after "--"
                    return " (options go before '--': every word after it is a name)"
                near = difflib.get_close_matches(word, known, n=1, cutoff=0.7)
                if near:
                    return f" (did you mean {near[0]}?)"
        return ""


#: numpy's and torch's generators take seeds in 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 1


def seed(text: str) -> int:
    """``--seed``: an integer in 0 .. 2**32 - 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{text} is not in 0..{MAX_SEED}")
    return value


def whole_number(least: int = 0, most: int | None = None) -> Callable[[str], int]:
    """A type of whole numbers of ``least`` or more (up to ``most``):
    ``'0' is not a whole number of 1 or more``."""
    span = f"of {least} or more" if most is None else f"from {least} to {most}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < least or (most is not None and value > most):
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number {span}")
        return value

    return parse


def number(
    *, above: float | None = None, least: float | None = None, most: float | None = None
) -> Callable[[str], float]:
    """A type of finite numbers over ``above`` (or of ``least`` or more), up to ``most``:
    ``'0' is not a number above 0``."""
    low = (
        f"above {above:g}"
        if above is not None
        else f"of {least:g} or more"
        if most is None and least is not None
        else ""
    )
    span = (
        f"from {least:g} to {most:g}"
        if least is not None and most is not None
        else f"{low} and at most {most:g}"
        if most is not None
        else low
    )

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        wrong = (
            not math.isfinite(value)  # (also nan, and what is no number)
            or (above is not None and value <= above)
            or (least is not None and value < least)
            or (most is not None and value > most)
        )
        if wrong:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number {span}".rstrip())
        return value

    return parse


def architecture_name(text: str) -> str:
    """``--arch``: a registered architecture (the choices, and the near one, said)."""
    from annotator.core.errors import AnnotatorError
    from annotator.core.near import did_you_mean
    from annotator.ml.networks import architecture, architecture_names

    try:
        architecture(text)
    except AnnotatorError as exc:
        raise argparse.ArgumentTypeError(
            f"{exc}{did_you_mean(text, architecture_names())}"
        ) from None
    return text


def network_depth(text: str) -> int:
    """``--depth``: a network depth, 1 to ``ml.networks.MAX_DEPTH``."""
    from annotator.ml.networks import MAX_DEPTH

    return whole_number(1, MAX_DEPTH)(text)


def network_width(text: str) -> int:
    """``--width``: a network base width, 1 to ``ml.networks.MAX_WIDTH``."""
    from annotator.ml.networks import MAX_WIDTH

    return whole_number(1, MAX_WIDTH)(text)


def zoom(text: str) -> float:
    """``--zoom``: 0 (off) to ``ml.data.MAX_ZOOM``."""
    from annotator.ml.data import MAX_ZOOM

    return number(least=0.0, most=MAX_ZOOM)(text)


def demo_images(text: str) -> int:
    """``demo --images``: 1 to ``services.demo.MAX_DEMO_IMAGES``."""
    from annotator.services.demo import MAX_DEMO_IMAGES

    return whole_number(1, MAX_DEMO_IMAGES)(text)


def split_shares(text: str) -> str:
    """``export --split``: one to three shares (``0.8,0.1,0.1``), kept as given."""
    from annotator.core.errors import AnnotatorError
    from annotator.services.exchange import parse_split

    try:
        parse_split(text)
    except AnnotatorError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--split ")) from None
    return text


def channel_choice(text: str) -> tuple[int, ...]:
    """``channels --use``: up to 16 channels counted from 1 (``4,3,2``; ``1,2,3,4``),
    0-based."""
    from annotator.core.channels import parse

    try:
        return tuple(parse(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def class_names(text: str) -> list[str]:
    """``new --classes``: comma-separated class names, each one a class may have."""
    from annotator.core.errors import AnnotatorError
    from annotator.core.schema import LabelSchema

    names = [n.strip() for n in text.split(",")]
    if any(not n for n in names):
        raise argparse.ArgumentTypeError(f"{text!r}: empty class name")
    try:
        LabelSchema.from_names(names)
    except AnnotatorError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return names


def class_name(text: str) -> str:
    """``classes --add NAME``: a name a class may have (not empty, printable...)."""
    from annotator.core.errors import AnnotatorError
    from annotator.core.schema import check_name

    try:
        return check_name(text)
    except AnnotatorError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def colour(text: str) -> str:
    """A class colour, ``#rrggbb``."""
    from annotator.core.errors import AnnotatorError
    from annotator.core.schema import hex_to_rgb

    try:
        hex_to_rgb(text)
    except AnnotatorError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def class_id(text: str) -> str:
    """The id a class moves to (``classes --move CLASS ID``): a whole number, 0 or more
    (whether the project has it is the command's to say)."""
    return str(whole_number(0)(text))


def _choices(text: str, known: Sequence[str], what: str, extra: str = "") -> list[str]:
    """The comma-separated names of ``text``, each once, all of ``known``; an argparse
    error naming the first unknown one (with a "did you mean"), or none given."""
    from annotator.core.near import did_you_mean

    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        raise argparse.ArgumentTypeError(f"{text!r}: give at least one {what}{extra}")
    for name in names:
        if name not in known:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {name!r}; choose from {', '.join(known)}"
                f"{did_you_mean(name, known)}"
            )
    return names


def bench_modes(text: str) -> list[str]:
    """``bench --mode``: modes of ``bench.effort.MODES``, comma-separated, each once."""
    from annotator.bench.effort import MODES

    return _choices(text, MODES, "mode")


def bench_tools(text: str) -> tuple[str, ...]:
    """``bench --tools``: 'all', or tools of ``bench.actions.TOOLS``, comma-separated."""
    from annotator.bench.actions import TOOLS

    if text.strip() == "all":
        return TOOLS
    return tuple(_choices(text, TOOLS, "tool", ", or 'all'"))


def second_of_two(check: Callable[[str], Any]) -> type[argparse.Action]:
    """An action for ``nargs=2`` options whose second value has a form of its own
    (``--color CLASS '#RRGGBB'``): it is checked as a ``type=`` would check it, the first
    (a class, known to the project only) is left as it is."""

    class Pair(argparse.Action):
        def __call__(
            self,
            parser: argparse.ArgumentParser,
            namespace: argparse.Namespace,
            values: Any,
            option_string: str | None = None,
        ) -> None:
            first, second = values
            try:
                second = check(second)
            except argparse.ArgumentTypeError as exc:
                raise argparse.ArgumentError(self, str(exc)) from None
            setattr(namespace, self.dest, [first, second])

    return Pair


def model_version(text: str) -> int:
    """A model version as the user writes it: ``2`` or ``v2`` (as ``models`` lists it)."""
    digits = text.strip()
    if digits[:1] in ("v", "V"):
        digits = digits[1:]
    if not digits.isdecimal():
        raise argparse.ArgumentTypeError(f"{text!r} is no model version (e.g. 2 or v2)")
    return int(digits)


def wait_seconds(text: str) -> float:
    """``--wait``: seconds, 0 or more (0: refuse at once)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value < math.inf:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text} is not a number of seconds, 0 or more")
    return value


# Commands the CLI suggests (`annotator remove P NAME`...), to be copied as they are: each
# word quoted for a POSIX shell, and none that argparse would take for an option.


def path_word(path: str | os.PathLike[str]) -> str:
    """A file or project path in a suggested command: ``./-x.png`` for ``-x.png`` (the
    same file, not read as an option), quoted when it needs to be (spaces...)."""
    text = os.fspath(path)
    return shlex.quote(f".{os.sep}{text}" if text.startswith("-") else text)


def option_names(option: str, names: Sequence[str]) -> str:
    """Image names as the values of ``option`` in a suggested command, quoted: ``--images
    a.png b.png``, or, when one starts with '-', each as ``--images=-x.png`` (after a
    ``--`` the option would get no value; the option extends its list)."""
    if any(n.startswith("-") for n in names):
        return " ".join(f"{option}={shlex.quote(n)}" for n in names)
    return " ".join([option, *(shlex.quote(n) for n in names)])


def name_words(names: Sequence[str]) -> str:
    """Image names last in a suggested command, quoted, after ``--`` when one starts
    with '-' (a name is not a path: ``./-x.png`` would name no image)."""
    words = [shlex.quote(n) for n in names]
    return " ".join(["--", *words] if any(n.startswith("-") for n in names) else words)
