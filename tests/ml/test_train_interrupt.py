"""Ctrl+C at the end of ``annotator train``: during the last file write, during the
record, after it. The user gets exit code 130 and one line; the version is either not
published (no folder, no record) or published whole, and then the line says so."""

from __future__ import annotations

import io
import os
import signal
import sys

import pytest
from conftest import make_cells_project

import annotator.storage.models as model_store
from annotator.cli import EXIT_INTERRUPTED, main
from annotator.storage.project import Project

TINY_TRAIN = ["--steps", "1", "--device", "cpu", "--depth", "2", "--width", "8"]


@pytest.fixture
def root(tmp_path):
    make_cells_project(tmp_path / "project").close()
    return tmp_path / "project"


def _state(root):
    """The versions the database records, and the entries of the models folder."""
    with Project.open(root, lock=False) as project:
        versions = [m.version for m in project.models()]
        active = project.active_model()
    folder = root / "models"
    entries = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    return versions, (active.version if active else None), entries


def _ctrl_c():
    """What the terminal does on Ctrl+C: SIGINT to this process, raised in this thread
    so that its handler runs before the next line (``os.kill`` lets the kernel hand it to
    any thread, and the main thread goes on meanwhile: seen in CI)."""
    signal.raise_signal(signal.SIGINT)


def _train(root, capsys):
    code = main(["train", str(root), *TINY_TRAIN])
    return code, capsys.readouterr()


def test_ctrl_c_during_the_last_file_write_publishes_nothing(root, capsys, monkeypatch):
    """The first Ctrl+C only set the round's cancel, which nothing read after the ONNX
    export: the version was published and the command ended with 0."""
    real = model_store.write_synced

    def write(path, data):
        real(path, data)
        if os.path.basename(path) == model_store.CARD_NAME:  # the last file of the version
            _ctrl_c()

    monkeypatch.setattr(model_store, "write_synced", write)
    code, out = _train(root, capsys)
    assert code == EXIT_INTERRUPTED, out
    assert out.err.strip().splitlines()[-1] == (
        "annotator: training cancelled: the model version is unchanged"
    )
    assert "published" not in out.out and "Traceback" not in out.err
    assert _state(root) == ([], None, [])  # no record, no folder, no staging folder


def test_a_second_ctrl_c_before_the_record_leaves_no_folder(root, capsys, monkeypatch):
    """An interrupt between the folder's rename and its record left an unlisted v0001."""

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Project, "register_model", interrupted)
    code, out = _train(root, capsys)
    assert code == EXIT_INTERRUPTED
    assert out.err.strip().splitlines()[-1] == "annotator: interrupted"
    assert _state(root) == ([], None, [])


@pytest.mark.parametrize("where", ["commit", "prune", "notes", "close"])
def test_an_interrupt_once_the_version_is_recorded_says_it_was_published(
    root, capsys, monkeypatch, where
):
    """Right after the commit, while older versions' files were pruned, while the round's
    notes were made or the project closed, an interrupt said only "interrupted": the
    user could not tell that v1 had been published."""

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    if where == "commit":
        real = Project.register_model

        def commit_then_interrupt(self, *args, **kwargs):
            real(self, *args, **kwargs)
            raise KeyboardInterrupt

        monkeypatch.setattr(Project, "register_model", commit_then_interrupt)
    elif where == "prune":
        import annotator.services.versions as versions

        monkeypatch.setattr(versions, "prune", interrupted)
    elif where == "notes":
        import annotator.services.training as training

        monkeypatch.setattr(training, "_notes", interrupted)
    else:
        real_close = Project.close
        armed = [True]

        def close_interrupted(self):
            published = self.next_model_version() > 1
            real_close(self)
            if published and armed and armed.pop():  # the round's project, once
                raise KeyboardInterrupt

        monkeypatch.setattr(Project, "close", close_interrupted)
    code, out = _train(root, capsys)
    assert code == EXIT_INTERRUPTED
    assert out.err.strip().splitlines()[-1] == "annotator: interrupted after model v1 was published"
    assert "Traceback" not in out.err
    versions_, active, entries = _state(root)
    assert (versions_, active, entries) == ([1], 1, ["v0001"])  # whole, and active
    assert (root / "models" / "v0001" / model_store.WEIGHTS_NAME).is_file()


def test_ctrl_c_during_the_record_says_the_version_was_published(root, capsys, monkeypatch):
    """A Ctrl+C that comes after the last check of the cancel, while the record is
    committed: too late to stop it, but the command must not say it finished."""
    real = Project.register_model

    def record(self, *args, **kwargs):
        _ctrl_c()  # the handler sets the cancel; the commit goes on
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Project, "register_model", record)
    code, out = _train(root, capsys)
    assert code == EXIT_INTERRUPTED, out
    assert out.err.strip().splitlines()[-1] == "annotator: interrupted after model v1 was published"
    assert "published model v1" not in out.out  # not the summary of a finished command
    assert _state(root)[:2] == ([1], 1)


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("stop", ["ctrl-c", "error"])
def test_what_stops_a_command_is_said_on_a_line_of_its_own(root, capsys, monkeypatch, stop):
    """On a terminal, "annotator: interrupted" (or the error) was written after the
    progress line being redrawn, on the same line: `predicting: 0/4 ...annotator: ...`."""
    import annotator.services.proposals as proposals
    from annotator.cli.progress import ProgressLine
    from annotator.core.errors import ModelError

    assert _train(root, capsys)[0] == 0
    monkeypatch.setitem(ProgressLine.__init__.__kwdefaults__, "delay", 0)
    real = proposals.proposal_store.save_proposal
    calls = []

    def save(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt if stop == "ctrl-c" else ModelError("the model went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(proposals.proposal_store, "save_proposal", save)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    code = main(["predict", str(root), "--device", "cpu"])
    assert code == (EXIT_INTERRUPTED if stop == "ctrl-c" else 1)
    lines = terminal.getvalue().split("\n")
    said = "annotator: interrupted" if stop == "ctrl-c" else "annotator: error: the model went"
    assert lines[-1] == "" and lines[-2].startswith(said), lines
    assert "predicting: " in lines[-3]  # the progress line, ended


def _sigterm():
    """What a batch system's time limit (SLURM, scancel) or ``kill`` does: SIGTERM."""
    signal.raise_signal(signal.SIGTERM)


def test_sigterm_during_the_last_file_write_cancels_as_ctrl_c_does(root, capsys, monkeypatch):
    """SIGTERM killed the round at once: exit 143 without a line, the lock file naming a
    dead process, half a version's files in models/."""
    from annotator.storage.lock import holder

    real = model_store.write_synced

    def write(path, data):
        real(path, data)
        if os.path.basename(path) == model_store.CARD_NAME:
            _sigterm()

    monkeypatch.setattr(model_store, "write_synced", write)
    code, out = _train(root, capsys)
    assert code == 128 + signal.SIGTERM, out
    assert out.err.strip().splitlines()[-1] == (
        "annotator: training cancelled by SIGTERM: the model version is unchanged"
    )
    assert _state(root) == ([], None, [])
    assert holder(root) is None  # the lock released
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # given back


def test_sigterm_once_the_version_is_recorded_says_it_was_published(root, capsys, monkeypatch):
    real = Project.register_model

    def record(self, *args, **kwargs):
        _sigterm()
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Project, "register_model", record)
    code, out = _train(root, capsys)
    assert code == 128 + signal.SIGTERM, out
    assert out.err.strip().splitlines()[-1] == (
        "annotator: interrupted after model v1 was published by SIGTERM"
    )
    assert _state(root)[:2] == ([1], 1)


def test_ctrl_c_still_exits_130(root, capsys, monkeypatch):
    real = Project.register_model

    def record(self, *args, **kwargs):
        _ctrl_c()
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Project, "register_model", record)
    code, _out = _train(root, capsys)
    assert code == 130


def test_sigterm_in_predict_says_what_is_kept_and_releases_the_lock(root, capsys, monkeypatch):
    """predict (like add, import, export, bench) stops on SIGTERM as on Ctrl+C."""
    import annotator.services.proposals as proposals
    from annotator.storage.lock import holder

    assert main(["train", str(root), *TINY_TRAIN]) == 0
    capsys.readouterr()
    real = proposals.predict_images

    def predict(project, *args, **kwargs):
        assert holder(root) is not None and holder(root).pid == os.getpid()
        _sigterm()
        return real(project, *args, **kwargs)

    monkeypatch.setattr(proposals, "predict_images", predict)
    code = main(["predict", str(root), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 128 + signal.SIGTERM, err
    assert err.strip().splitlines() == [
        "annotator: interrupted after 0 of 4 image(s), whose proposals stay in the project"
    ], err
    assert holder(root) is None


def test_sigterm_in_a_read_only_command_gives_one_line(root, capsys, monkeypatch):
    import annotator.services.versions as versions

    def listing(*_args, **_kwargs):
        _sigterm()

    monkeypatch.setattr(versions, "listing", listing)
    code = main(["models", str(root)])
    assert code == 143
    assert capsys.readouterr().err.strip().splitlines() == ["annotator: interrupted by SIGTERM"]


def test_a_second_ctrl_c_while_the_version_is_written_lets_the_write_roll_back(
    root, capsys, monkeypatch
):
    """The second Ctrl+C raised inside the write of the weights: the command said only
    "interrupted". Now the write goes on, the cancel rolls it back, and the line says the
    version is unchanged; a third Ctrl+C still stops at once, leaving nothing."""
    real = model_store.write_synced
    presses = [2]

    def write(path, data):
        if os.path.basename(path) == model_store.WEIGHTS_NAME:
            for _ in range(presses[0]):
                _ctrl_c()
        real(path, data)

    monkeypatch.setattr(model_store, "write_synced", write)
    code, out = _train(root, capsys)
    assert code == EXIT_INTERRUPTED, out
    assert out.err.strip().splitlines()[-1] == (
        "annotator: training cancelled: the model version is unchanged"
    )
    assert "Traceback" not in out.err and "published" not in out.out
    assert _state(root) == ([], None, [])
    presses[0] = 3
    code, out = _train(root, capsys)
    assert code == EXIT_INTERRUPTED
    assert out.err.strip().splitlines()[-1] == "annotator: interrupted"
    assert _state(root) == ([], None, [])  # all or nothing, still


def test_a_second_ctrl_c_after_the_last_check_lets_the_version_be_published(
    root, capsys, monkeypatch
):
    """Both presses while the record is committed (after the cancel's last check): the
    version is published whole, and the line says so."""
    real = Project.register_model

    def record(self, *args, **kwargs):
        _ctrl_c()
        _ctrl_c()
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Project, "register_model", record)
    code, out = _train(root, capsys)
    assert code == EXIT_INTERRUPTED, out
    assert out.err.strip().splitlines()[-1] == "annotator: interrupted after model v1 was published"
    assert _state(root) == ([1], 1, ["v0001"])
