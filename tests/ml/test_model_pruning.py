"""Old model versions' files are removed to save space: every round makes a version of
about 15 MB, and nothing removed them (200 rounds left 2.8 GB)."""

from __future__ import annotations

import json
import re

import pytest
from conftest import FAST, TINY, make_cells_project

from annotator.cli import main
from annotator.core.errors import ModelError
from annotator.services import training, versions
from annotator.storage import models as model_store


@pytest.fixture
def project(tmp_path):
    p = make_cells_project(tmp_path / "p")
    yield p
    p.close()


def _round(project):
    return training.train_project(project, steps=1, network=TINY, config=FAST, device="cpu")


def _folders(project):
    return set(model_store.version_folders(project))


def test_rounds_keep_the_newest_versions_files_and_the_active_ones(project, tmp_path):
    assert versions.keep_versions(project) == versions.DEFAULT_KEEP == 20
    versions.set_keep_versions(project, 2)
    for _ in range(4):
        _round(project)
    assert [m.version for m in project.models()] == [1, 2, 3, 4]  # every record stays
    assert _folders(project) == versions.stored(project) == {3, 4}
    with pytest.raises(ModelError, match="v1's weights are not on disk.*newest 2"):
        versions.rollback(project, 1)
    with pytest.raises(ModelError, match="v2's weights are not on disk"):
        versions.export_model(project, tmp_path / "m.pt", 2)
    assert project.active_model().version == 4
    versions.rollback(project, 3)
    assert versions.set_keep_versions(project, 1).removed == ()  # v3 is active, v4 newest
    assert _round(project).model.version == 5  # continues from v3
    assert _folders(project) == {5}  # v3 is no longer active, v4 no longer newest


def test_keep_zero_keeps_every_version_and_a_damaged_setting_is_the_default(project):
    versions.set_keep_versions(project, 0)
    for _ in range(3):
        _round(project)
    assert _folders(project) == {1, 2, 3}
    project.set_setting(versions.KEEP_SETTING, "all")  # edited by hand
    assert versions.keep_versions(project) == versions.DEFAULT_KEEP
    project.set_setting(versions.KEEP_SETTING, -3)
    assert versions.keep_versions(project) == versions.DEFAULT_KEEP
    with pytest.raises(ModelError):
        versions.set_keep_versions(project, -1)


def test_a_removal_a_crash_interrupted_is_finished_and_never_listed(project):
    versions.set_keep_versions(project, 0)
    _round(project)
    _round(project)
    folder = model_store.model_files(project, project.model(1)).folder
    hidden = folder.parent / f".{folder.name}.removed"
    folder.rename(hidden)  # killed after the rename, before the files were deleted
    assert versions.stored(project) == {2}
    versions.set_keep_versions(project, 5)
    assert not hidden.exists() and _folders(project) == {2}


def test_the_cli_sets_the_number_kept_and_lists_removed_versions(project, capsys):
    versions.set_keep_versions(project, 0)
    for _ in range(3):
        _round(project)
    root = str(project.root)
    project.close()
    assert main(["models", root, "--keep", "1"]) == 0
    out = capsys.readouterr().out
    assert "the newest model version's files (and the active one's) are kept" in out
    assert "removed the files of v1, v2 (" in out and "MB freed)" in out
    assert main(["models", root]) == 0
    out = capsys.readouterr().out
    assert out.count("its files are gone: it cannot be rolled back to or exported") == 2
    assert main(["models", root, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [m["files"] for m in listed] == [False, False, True]
    with pytest.raises(SystemExit):  # a usage error
        main(["models", root, "--keep", "x"])
    assert main(["models", root, "--keep", "0"]) == 0
    assert "every model version's files are kept" in capsys.readouterr().out
    assert main(["models", root, "--rollback", "1"]) == 1
    assert "v1's weights are not on disk" in capsys.readouterr().err


def test_a_damaged_old_version_neither_fails_a_round_nor_the_listing(project):
    """has_files verified the checksum: one damaged old version made every later round
    report failure after publishing, and the window and `models` fail to list."""
    versions.set_keep_versions(project, 0)
    _round(project)
    _round(project)
    weights = model_store.model_files(project, project.model(1)).weights
    weights.write_bytes(weights.read_bytes() + b"x")  # damaged on disk
    assert versions.stored(project) == {1, 2}
    assert _round(project).model.version == 3  # publishing prunes nothing at keep 0
    assert versions.set_keep_versions(project, 1).removed == (1, 2)
    assert _round(project).model.version == 4 and versions.stored(project) == {4}


def _kept_on_round(project):
    return training.train_project(
        project, steps=1, network=TINY, config=FAST, device="cpu", done_only=True
    )


def test_an_imported_version_is_no_kept_on_one_whatever_its_card_says(project, tmp_path, capsys):
    """A card keeps the training of the project it was made in: a version exported from
    a round kept on, imported, was listed "kept on" (the model panel's versions list
    too) and pruned with those."""
    _round(project)  # v1
    _kept_on_round(project)  # v2
    versions.export_model(project, tmp_path / "v2.pt", 2)
    imported = versions.import_model(project, tmp_path / "v2.pt", export_onnx=False)  # v3
    assert imported.card.training.kept_on and not imported.card.kept_on
    versions.set_keep_versions(project, 1)  # the newest asked-for or imported, and kept on
    assert versions.stored(project) == {2, 3}
    root = str(project.root)
    project.close()
    assert main(["models", root]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if re.match(r"[* ] v\d", line)]
    assert [row.endswith("trained while you labelled") for row in rows] == [False, True, False]


def test_versions_kept_on_while_the_user_labels_make_way_first(project, capsys, monkeypatch):
    """Keeping on (ADR 0033) publishes a version a minute: counted with the others, they
    pushed out within 20 minutes every version made when an image was marked done."""
    monkeypatch.setattr(versions, "KEPT_ON_KEPT", 2)
    versions.set_keep_versions(project, 3)
    _round(project)  # v1, v2: asked for
    _round(project)
    for _ in range(4):  # v3-v6: kept on
        _kept_on_round(project)
    assert [m.card.training.kept_on for m in project.models()] == [False] * 2 + [True] * 4
    assert _folders(project) == versions.stored(project) == {1, 2, 5, 6}
    _round(project)  # v7, asked for: the three newest asked-for ones stay
    assert versions.stored(project) == {1, 2, 5, 6, 7}
    _round(project)  # v8
    assert versions.stored(project) == {2, 5, 6, 7, 8}
    versions.rollback(project, 5)  # the active one is never removed
    _kept_on_round(project)  # v9, from v5
    _kept_on_round(project)  # v10
    assert versions.stored(project) == {2, 7, 8, 9, 10}
    assert versions.set_keep_versions(project, 1).removed == (2, 7, 9)
    assert versions.stored(project) == {8, 10}
    reread = project.model(10).card  # said on the card, read back from its file
    assert reread.training.kept_on and not project.model(8).card.training.kept_on
    root = str(project.root)
    project.close()
    assert main(["models", root]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if re.match(r"[* ] v\d", line)]
    assert [row.endswith("trained while you labelled") for row in rows] == [
        False,
        False,
        True,
        True,
        True,
        True,
        False,
        False,
        True,
        True,
    ]


def test_the_stale_note_quotes_a_project_path_with_spaces(tmp_path):
    """Its suggested command must run as written (found by a new-user audit's builder)."""
    import shlex

    project = make_cells_project(tmp_path / "my project")
    try:
        _round(project)
        project.set_schema(project.schema.renamed(1, "renamed"))
        note = versions.stale_note(project)
        command = note.split("`")[1]
        assert shlex.split(command) == [
            "annotator",
            "train",
            str(tmp_path / "my project"),
            "--from-scratch",
        ]
    finally:
        project.close()


def test_an_imported_version_made_by_a_class_change_elsewhere_is_kept(project, tmp_path):
    """A version exported from one adapted to a class change kept "adapted from ...
    (not trained since)" when imported, and the next import (or round) removed the files
    of the version the user had imported."""
    _round(project)  # v1
    root = str(project.root)
    project.close()
    assert main(["classes", root, "--add", "extra"]) == 0
    assert main(["classes", root, "--move", "extra", "1"]) == 0  # v2: v1 adapted
    model = str(tmp_path / "adapted.pt")
    assert main(["models", root, "--export", model]) == 0
    assert main(["models", root, "--import", model]) == 0  # v3
    assert main(["models", root, "--import", model, "--again"]) == 0  # v4
    from annotator.storage.project import Project

    with Project.open(root) as again:
        assert again.model(2).card.adapted is not None  # (made here: it goes when replaced)
        assert again.model(3).card.adapted is None
        assert {3, 4} <= versions.stored(again)
        assert 2 not in versions.stored(again)  # adapted here, replaced: its files went
        with pytest.raises(ModelError, match="adapted to a class change loses its files"):
            versions.files_of(again, again.model(2))
