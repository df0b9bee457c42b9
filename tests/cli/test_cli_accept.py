"""``annotator accept``: stored proposals accepted into the labels through the Document
and the saver the window's Accept (A) uses: only unlabelled pixels filled, the label
source and the Accepted Proposal recorded, images without a proposal named."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from annotator.cli import EXIT_BUSY, EXIT_USAGE, main
from annotator.core.card import ModelCard
from annotator.core.proposal import Proposal
from annotator.core.status import ImageStatus
from annotator.storage import lock as lock_module
from annotator.storage import models, proposals
from annotator.storage.lock import ProjectLock
from annotator.storage.project import Project

SIZE = 8
UNLABELLED = 255


def _publish(project: Project, version: int, classes=("background", "cell")) -> None:
    """A model version on record (no real weights: accept never runs the model)."""
    card = ModelCard(
        version=version,
        parent=version - 1 or None,
        architecture={"in_channels": 1, "n_classes": len(classes)},
        classes=tuple(classes),
    )
    models.publish_version(project, card, b"weights")


def _propose(project: Project, name: str, version: int, value: int = 1) -> np.ndarray:
    """Store a proposal of ``version`` for image ``name``: ``value`` on the left half,
    class 0 on the right, no class (a pixel of no value) in the bottom row."""
    record = next(r for r in project.images() if Path(r.name).stem == name)
    mask = np.zeros((record.height, record.width), np.uint8)
    mask[:, : record.width // 2] = value
    mask[-1, :] = UNLABELLED
    unc = np.zeros(mask.shape, np.float32)
    proposals.save_proposal(project, record.id, Proposal(None, mask, unc, 0.5, version))
    return mask


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """Images a, b, c (new) with model v1 active; a and b have v1's proposals; a has two
    pixels the user labelled 0 and one painted void."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, name in enumerate("abc"):
        Image.fromarray(np.full((SIZE, SIZE), 60 * i, np.uint8)).save(folder / f"{name}.png")
    root = tmp_path / "P"
    assert main(["new", str(root), "--classes", "background,cell"]) == 0
    assert main(["add", str(root), str(folder)]) == 0
    with Project.open(root) as project:
        _publish(project, 1)
        _propose(project, "a", 1)
        _propose(project, "b", 1)
        labels = np.full((SIZE, SIZE), UNLABELLED, np.uint8)
        labels[0, 0] = labels[0, 1] = 0  # (the proposal says 1 there)
        labels[1, 0] = project.schema.void
        project.save_mask(project.images()[0].id, labels)
    return root


def _record(root: Path, name: str):
    with Project.open(root, lock=False) as project:
        record = next(r for r in project.images() if Path(r.name).stem == name)
        return record, project.load_mask(record), project.load_accepted(record)


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip()


def test_accept_fills_only_the_unlabelled_pixels_and_records_the_source(root, capsys):
    code, out, err = _run(capsys, "accept", str(root), "a", "b.png")
    assert code == 0, err
    # a: 64 pixels, 8 of no class in the proposal, 3 the user's: 53 filled; b: 56
    assert out == "accepted the proposals of model v1 into 2 images (109 pixels filled)"
    record, labels, accepted = _record(root, "a")
    assert labels[0, 0] == 0 and labels[0, 1] == 0  # the user's labels stay
    assert labels[1, 0] == 254  # void too
    assert labels[2, 0] == 1 and labels[2, -1] == 0  # the proposal elsewhere
    assert (labels[-1] == UNLABELLED).all()  # no class: nothing written
    assert record.label_source == "proposal:v1+user"
    assert record.status is ImageStatus.IN_PROGRESS
    assert record.labelled_pixels == 56
    assert accepted is not None and accepted[2, 0] == 1  # the Accepted Proposal kept
    record, labels, _ = _record(root, "c")
    assert labels is None and record.status is ImageStatus.NEW


def test_an_image_without_a_stored_proposal_is_skipped_naming_predict(root, capsys):
    code, out, err = _run(capsys, "accept", str(root), "b", "c")
    assert code == 2  # went on past an image it could not accept into
    assert out == (
        "accepted the proposals of model v1 into 1 image (56 pixels filled); skipped 1: "
        "1 without a stored proposal"
    )
    assert err == (
        "skipped 1 image(s), no stored proposal of model v1 (c.png): store them with "
        f"`annotator predict {root} --images c.png`, or accept with --predict"
    )


def test_no_stored_proposal_at_all_is_an_error(root, capsys):
    code, out, err = _run(capsys, "accept", str(root), "c")
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert "`annotator predict" in lines[0]
    assert lines[-1] == (
        "annotator: error: accepted the proposals of model v1 into 0 images (0 pixels "
        "filled); skipped 1: 1 without a stored proposal"
    )


def test_accepted_again_nothing_is_left_to_fill_and_nothing_changes(root, capsys):
    assert _run(capsys, "accept", str(root), "b")[0] == 0
    before = _record(root, "b")[0]
    code, out, err = _run(capsys, "accept", str(root), "b")
    assert code == 0
    assert out.endswith("into 0 images (0 pixels filled); skipped 1: 1 with nothing left to fill")
    assert "nothing left to accept (b.png): every pixel the proposal covers is labelled" in err
    assert _record(root, "b")[0].updated_at == before.updated_at


def test_all_leaves_out_done_images_and_status_selects(root, capsys):
    assert main(["mark", str(root), "a", "--done"]) == 0
    capsys.readouterr()
    code, out, _ = _run(capsys, "accept", str(root), "--all")
    assert code == 2  # c has no proposal
    assert out.endswith(
        "into 1 image (56 pixels filled); skipped 1: 1 without a stored proposal; "
        "left out 1 done image (--all)"
    )
    assert _record(root, "a")[0].label_source == "user"
    code, out, _ = _run(capsys, "accept", str(root), "--status", "done")
    assert code == 0
    record = _record(root, "a")[0]
    assert record.label_source == "proposal:v1+user" and record.status is ImageStatus.DONE


def test_the_default_version_is_the_active_one_and_version_picks_another(root, capsys):
    with Project.open(root) as project:
        _publish(project, 2)  # active now; a's and b's proposals are v1's
    code, _, err = _run(capsys, "accept", str(root), "a")
    assert code == 1
    assert "no stored proposal of model v2 (a.png)" in err
    assert "`annotator predict" in err
    code, out, err = _run(capsys, "accept", str(root), "a", "--version", "v1")
    assert code == 0, err
    assert out.startswith("accepted the proposals of model v1 into 1 image")
    assert _record(root, "a")[0].label_source == "proposal:v1+user"


def test_a_version_the_project_lacks_or_of_other_classes_is_refused(root, capsys):
    code, _, err = _run(capsys, "accept", str(root), "a", "--version", "7")
    assert (code, err) == (1, "annotator: error: the project has no model v7 (its versions: v1)")
    assert main(["classes", str(root), "--rename", "cell", "nucleus"]) == 0
    capsys.readouterr()
    code, _, err = _run(capsys, "accept", str(root), "a")
    assert code == 1
    assert err.startswith("annotator: error: model v1 was trained for other classes")
    assert _record(root, "a")[0].label_source == "user"


def test_without_a_model_it_says_to_train(tmp_path, capsys):
    root = tmp_path / "P"
    assert main(["new", str(root), "--classes", "background,cell"]) == 0
    capsys.readouterr()
    code, _, err = _run(capsys, "accept", str(root), "--all")
    assert code == 1
    assert err == (
        "annotator: error: the project has no model yet, so no proposals to accept: run "
        f"`annotator train {root}` first"
    )


def test_unknown_names_and_no_selection(root, capsys):
    code, _, err = _run(capsys, "accept", str(root), "a", "b.pgn")
    assert code == 1 and "no image 'b.pgn'" in err and "did you mean 'b.png'" in err
    assert _record(root, "a")[0].label_source == "user"  # nothing accepted
    code, _, err = _run(capsys, "accept", str(root))
    assert code == EXIT_USAGE and "name the images, or give --all or --status" in err
    code, _, err = _run(capsys, "accept", str(root), "a", "--device", "cpu")
    assert code == EXIT_USAGE and "--device goes with --predict" in err


def test_json_names_each_image_accepted_and_skipped(root, capsys):
    code, out, _ = _run(capsys, "accept", str(root), "a", "c", "--json")
    assert code == 2
    data = json.loads(out)
    assert data["version"] == 1
    assert data["images_accepted"] == 1 and data["pixels_filled"] == 53
    (accepted,) = data["accepted"]
    assert accepted["name"] == "a.png" and accepted["pixels_filled"] == 53
    assert accepted["label_source"] == "proposal:v1+user"
    assert accepted["status"] == "in_progress"
    (skipped,) = data["skipped"]
    assert skipped["name"] == "c.png" and skipped["kind"] == "no_proposal"


def test_a_busy_project_exits_75(root, capsys, monkeypatch):
    monkeypatch.setattr(lock_module.sys, "argv", ["/usr/bin/annotator", "train", "P"])
    other = ProjectLock._take(root.resolve())
    try:
        code, _, err = _run(capsys, "accept", str(root), "a")
        assert code == EXIT_BUSY and "open in another process" in err
        code, _, err = _run(capsys, "mark", str(root), "a", "--done")
        assert code == EXIT_BUSY
    finally:
        os.close(other._fd)
    assert _record(root, "a")[0].label_source == "user"


def test_an_image_whose_picture_is_gone_is_skipped_and_named(root, tmp_path, capsys):
    (tmp_path / "imgs" / "b.png").unlink()
    code, out, err = _run(capsys, "accept", str(root), "a", "b")
    assert code == 2
    assert out.endswith("into 1 image (53 pixels filled); skipped 1: 1 unreadable")
    assert err.startswith("skipped b.png: ")
    assert _record(root, "b")[0].label_source == ""


def test_interrupted_the_images_accepted_so_far_are_saved(root, capsys, monkeypatch):
    from annotator.services.document import Document

    real = Document.accept

    def accept(self, proposal, *args, **kwargs):
        if self.record.name == "b.png":
            raise KeyboardInterrupt
        return real(self, proposal, *args, **kwargs)

    monkeypatch.setattr(Document, "accept", accept)
    code, _, err = _run(capsys, "accept", str(root), "a", "b")
    assert code == 130
    assert err == (
        "annotator: interrupted after accepting into 1 of 2 image(s), whose labels are saved"
    )
    assert _record(root, "a")[0].label_source == "proposal:v1+user"
    assert _record(root, "b")[0].label_source == ""


@pytest.mark.slow  # (a tiny model trained on the CPU)
def test_predict_stores_the_missing_proposals_first_then_accepts(tmp_path, capsys):
    from modelhelpers import ranked_project

    root = ranked_project(tmp_path, n_images=4)  # two done, two new; model v1
    with Project.open(root) as project:
        new = [r for r in project.images() if r.status is ImageStatus.NEW]
        _propose(project, Path(new[0].name).stem, 1)  # one has v1's already
    code, out, err = _run(capsys, "accept", str(root), "--all", "--predict", "--device", "cpu")
    assert code == 0, err
    assert out.startswith(
        "predicted 1 image, then accepted the proposals of model v1 into 2 images"
    )
    assert out.endswith("; left out 2 done images (--all)")
    for record in new:
        record, labels, accepted = _record(root, Path(record.name).stem)
        assert record.label_source == "proposal:v1+user" and accepted is not None
        assert (labels == accepted).all()  # (no labels before: the proposal everywhere)
    with Project.open(root) as project:
        _publish(project, 2, classes=("background", "cell", "nucleus"))
    code, _, err = _run(capsys, "accept", str(root), "--all", "--predict", "--version", "1")
    assert code == EXIT_USAGE
    assert "--predict stores the active model's proposals, not v1's" in err


def test_json_when_nothing_could_be_accepted_is_the_documented_object(root, capsys):
    code, out, err = _run(capsys, "accept", str(root), "c", "--json")
    assert code == 1
    data = json.loads(out)
    assert data["exit_code"] == 1 and data["error"].endswith("1 without a stored proposal")
    assert data["version"] == 1 and data["images_accepted"] == 0 and data["predicted"] == 0
    assert [(s["name"], s["kind"]) for s in data["skipped"]] == [("c.png", "no_proposal")]
    assert err.splitlines()[-1].startswith("annotator: error: accepted the proposals")


def test_json_with_nothing_selected_prints_the_object(root, capsys):
    code, out, err = _run(capsys, "accept", str(root), "--status", "done", "--json")
    assert code == 0
    data = json.loads(out)  # (it was a line of text)
    assert data["images_accepted"] == 0 and data["accepted"] == data["skipped"] == []
    assert data["exit_code"] == 0
    assert err == "no image is done: nothing accepted"


def test_nothing_to_fill_beside_a_missing_proposal_is_a_partial_skip_not_a_failure(root, capsys):
    assert _run(capsys, "accept", str(root), "b")[0] == 0
    code, out, _ = _run(capsys, "accept", str(root), "b", "c")
    assert code == 2  # (it was 1: as if no image had its proposal's labels)
    assert out.endswith("skipped 2: 1 with nothing left to fill, 1 without a stored proposal")


def test_a_version_not_active_without_a_proposal_is_told_to_predict_with_it(root, capsys):
    with Project.open(root) as project:
        _publish(project, 2)  # active now; c has no proposal of v1
    code, _, err = _run(capsys, "accept", str(root), "a", "c", "--version", "1")
    assert code == 2
    assert (
        "skipped 1 image(s), no stored proposal of model v1 (c.png): store them with "
        f"`annotator predict {root} --images c.png --version 1` (model v1 is not the active one)"
    ) in err
