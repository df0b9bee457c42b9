"""A mistyped option is refused with the usage of the command it was given to."""

from __future__ import annotations

import argparse

import pytest

from annotator.cli import build_parser, main


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _valid_args(command: argparse.ArgumentParser) -> list[str]:
    """Arguments the command accepts as far as parsing goes: each positional, each
    required option, one option of each required group."""
    args: list[str] = []
    grouped = {
        a for g in command._mutually_exclusive_groups if g.required for a in g._group_actions
    }
    for group in command._mutually_exclusive_groups:
        if group.required:
            action = group._group_actions[0]
            args += [action.option_strings[0], "a,b"]
    for action in command._actions:
        if action in grouped or isinstance(action, argparse._HelpAction):
            continue
        if not action.option_strings:
            args.append("x")
        elif action.required:
            args += [action.option_strings[0], str(next(iter(action.choices or ["x"])))]
    return args


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_command_refuses_an_unknown_option_with_its_own_usage(name, capsys):
    command = _commands()[name]
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([name, *_valid_args(command), "--no-such-option"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: annotator {name} "), err
    assert f"annotator {name}: error: unrecognized arguments: --no-such-option" in err


def test_train_with_a_mistyped_option_shows_trains_usage_and_the_near_option(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", str(tmp_path / "em"), "--stepz", "3"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: annotator train ")
    assert "--steps N" in err  # the option the user was looking for is in the usage
    assert err.rstrip().endswith(
        "annotator train: error: unrecognized arguments: --stepz 3 (did you mean --steps?)"
    )


def test_export_with_an_unknown_option_shows_exports_usage(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["export", str(tmp_path / "P"), str(tmp_path / "o"), "--format", "voc", "--bogus"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: annotator export ") and "--format" in err
    assert err.rstrip().endswith("annotator export: error: unrecognized arguments: --bogus")


def test_an_unknown_option_before_the_command_keeps_the_top_level_usage(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--bogus", "status", "P"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.startswith("usage: annotator [-h]")


def _varying(command: argparse.ArgumentParser) -> argparse.Action | None:
    """The command's positional that takes any number of values (IMAGE...)."""
    return next(
        (a for a in command._actions if not a.option_strings and a.nargs in ("*", "+")),
        None,
    )


def _before_the_varying(command: argparse.ArgumentParser) -> list[str]:
    """The command's other positionals (``x``) and one option of each required group."""
    args: list[str] = []
    for group in command._mutually_exclusive_groups:
        if group.required:
            action = group._group_actions[0]
            args += [action.option_strings[0]] + ([] if action.nargs == 0 else ["a,b"])
    for action in command._actions:
        if not action.option_strings and action is not _varying(command):
            args.append("x")
        elif action.option_strings and action.required:
            args += [action.option_strings[0], str(next(iter(action.choices or ["x"])))]
    return args


@pytest.mark.parametrize("name", sorted(n for n, c in _commands().items() if _varying(c)))
def test_every_commands_names_are_taken_after_an_option_too(name):
    """`mark P --done NAME`, `add P a --pages slices b`: positionals wherever they stand
    (argparse took IMAGE... as empty before the first option and refused the names)."""
    command = _commands()[name]
    args = _before_the_varying(command)
    parsed = build_parser().parse_args([name, *args, "first", "-v", "last"])
    assert [str(v) for v in getattr(parsed, _varying(command).dest)] == ["first", "last"]
    assert parsed.verbose


@pytest.mark.parametrize(
    ("argv", "dest", "values"),
    [
        (["mark", "P", "--done", "a", "b"], "images", ["a", "b"]),
        (["mark", "P", "a", "--done", "b"], "images", ["a", "b"]),
        (["mark", "P", "--done", "--", "-x.png"], "images", ["-x.png"]),
        (["remove", "P", "--status", "new", "a"], "images", ["a"]),
        (["accept", "P", "--version", "1", "--predict", "a"], "images", ["a"]),
        (["add", "P", "a", "--pages", "slices", "b"], "paths", ["a", "b"]),
        (["bench-combine", "r1", "--out", "o", "r2"], "runs", ["r1", "r2"]),
    ],
)
def test_names_stand_anywhere_among_the_options(argv, dest, values):
    parsed = build_parser().parse_args(argv)
    got = getattr(parsed, dest)
    assert (list(map(str, got)) if isinstance(got, list) else str(got)) == values


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["export", "P", "o", "--format", "voc", "--stacks"], "masks format, not voc"),
        (["export", "P", "o", "--format", "coco", "--geotiff"], "masks format, not coco"),
        (["export", "P", "o", "--format", "voc", "--leave-out", "X"], "--leave-out is for coco"),
        (["classes", "P", "--json", "--add", "foo"], "--json is for the listing of classes"),
        (["models", "P", "--json", "--keep", "3"], "--json is for the listing of versions"),
        (["models", "P", "--from-version", "1"], "--from-version goes with --export FILE"),
        (["models", "P", "--overwrite"], "--overwrite goes with --export FILE"),
        (["models", "P", "--again"], "--again goes with --import FILE"),
        (["remove", "P"], "name the images to remove, or give --status"),
        (["bench", "D", "--frozen-after", "0"], "--frozen-after 0 goes with --init-model"),
    ],
)
def test_options_that_do_not_go_together_name_the_commands_help_exit_2(
    tmp_path, monkeypatch, capsys, argv, said
):
    """As the README says (they exited 1, naming no --help); before any project is read
    (there is none here)."""
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert said in err and err.endswith(f"(see `annotator {argv[0]} --help`)"), err
    assert "\n" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "names", [["a.png", "it s.png"], ["-x.png", "it s.png"], ["-x.png"], ["--y.png", "-z"]]
)
def test_image_names_suggested_as_an_options_values_run_as_they_are(names):
    """accept suggested `annotator predict P --images -- -x.png`: after the `--`,
    --images had no value (usage error)."""
    import shlex

    from annotator.cli.options import option_names

    words = shlex.split(f"predict P {option_names('--images', names)} --version 2")
    parsed = build_parser().parse_args(words)
    assert parsed.images == names and parsed.version is not None
