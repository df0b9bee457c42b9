"""Provenance of accepted labels (docs/adr/0013): the accepted proposal is kept beside the
labels while the label source names it, and training leaves accepted pixels next to
label borders out."""

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from annotator.cli import main
from annotator.core.errors import AnnotatorError, ProjectError
from annotator.core.proposal import Proposal, proposal_source, source_version
from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.ml.data import IGNORE, to_target, void_accepted_border
from annotator.services.autosave import Autosaver, SaveRequest
from annotator.services.session import AnnotationSession
from annotator.storage.project import ACCEPTED_DIR, Project


@pytest.fixture
def project(tmp_path):
    images = tmp_path / "imgs"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        cv2.imwrite(str(images / f"im{i}.png"), rng.integers(0, 255, (24, 32), dtype=np.uint8))
    p = Project.create(tmp_path / "proj", LabelSchema.from_names(["bg", "cell"]))
    p.add_images([images])
    yield p
    p.close()


def _proposal(shape, version):
    mask = np.zeros(shape, np.uint8)
    mask[:, shape[1] // 2 :] = 1  # left half bg, right half cell
    return Proposal(None, mask, np.zeros(shape, np.float32), 0.5, version)


def _kept(project):
    folder = project.root / ACCEPTED_DIR
    return sorted(p.name for p in folder.glob("*.png")) if folder.is_dir() else []


def test_label_sources_name_their_model_version():
    assert proposal_source(3) == "proposal:v3+user"
    assert source_version("proposal:v3+user") == 3
    assert source_version("proposal:v12") == 12
    for other in ("user", "robot", "import:coco", "proposal:v", "proposal:v3x", ""):
        assert source_version(other) is None


def test_an_accept_keeps_its_proposal_and_undo_and_redo_move_the_file(project):
    session = AnnotationSession(project)
    rec = project.images()[0]
    doc = session.open_image(rec.id)
    assert doc.accepted_mask is None
    doc.paint_stroke([(2, 2)], 1, 1)
    proposal = _proposal(doc.label_map.shape, 3)
    assert doc.accept(proposal)
    assert doc.accepted_mask is proposal.mask  # the proposal's own array, not a copy
    session.save(wait=True)
    assert _kept(project) == [f"{rec.id}_v3.png"]
    stored = project.load_accepted(project.image(rec.id))
    assert stored is not None and (stored == proposal.mask).all()
    doc.paint_stroke([(20, 10)], 2, 0)  # a later edit keeps it
    session.save(wait=True)
    assert _kept(project) == [f"{rec.id}_v3.png"]
    doc.undo()
    doc.undo()  # the accept is undone: user labels again, the file goes
    assert doc.accepted_mask is None
    session.save(wait=True)
    assert _kept(project) == [] and project.load_accepted(project.image(rec.id)) is None
    doc.redo()  # and comes back with the accept (written again, not remembered as kept)
    session.save(wait=True)
    assert _kept(project) == [f"{rec.id}_v3.png"]
    # a newer version's proposal brush replaces it
    newer = _proposal(doc.label_map.shape, 4)
    doc.paint_stroke([(20, 10)], 2, 0)
    assert doc.paint_proposal([(20, 10)], 2, newer) is not None  # over the user's bg
    assert doc.accepted_mask is newer.mask
    session.save(wait=True)
    assert _kept(project) == [f"{rec.id}_v4.png"]
    session.close()


def test_a_reopened_image_keeps_the_file_its_source_names(project, tmp_path):
    session = AnnotationSession(project)
    rec = project.images()[1]
    doc = session.open_image(rec.id)
    assert doc.accept_region(_proposal(doc.label_map.shape, 2), 25, 5) is not None
    session.close()
    again = AnnotationSession(project)
    doc = again.open_image(rec.id)
    assert doc.label_source == "proposal:v2+user" and doc.accepted_mask is None
    kept = project.load_accepted(project.image(rec.id))
    doc.paint_stroke([(3, 3)], 1, 1)
    again.save(wait=True)  # saved without the array: the file on disk stays
    assert _kept(project) == [f"{rec.id}_v2.png"]
    assert project.load_accepted(project.image(rec.id)) is not None
    # Accepting a newer proposal replaces the file; undoing that accept brings the
    # source back to v2, and with it v2's file (held since the image was opened).
    assert doc.accept(_proposal(doc.label_map.shape, 5), only_over=1)
    again.save(wait=True)
    assert _kept(project) == [f"{rec.id}_v5.png"]
    doc.undo()
    again.save(wait=True)
    assert project.image(rec.id).label_source == "proposal:v2+user"
    assert _kept(project) == [f"{rec.id}_v2.png"]
    assert np.array_equal(project.load_accepted(project.image(rec.id)), kept)
    again.close()


def test_the_saver_encodes_an_accepted_proposal_once(project, monkeypatch):
    rec = project.images()[0]
    writes = []
    original = Project.accepted_path

    def counting(self, image_id, version):
        writes.append(version)
        return original(self, image_id, version)

    monkeypatch.setattr(Project, "accepted_path", counting)
    saver = Autosaver(project)
    mask = np.zeros((rec.height, rec.width), np.uint8)
    proposal = _proposal(mask.shape, 5).mask
    source = proposal_source(5)
    for generation in (1, 2, 3):
        saver.submit(SaveRequest(rec.id, mask, generation, source=source, accepted=proposal))
        saver.flush()
    saver.close()
    assert writes == [5]  # written by the first save only (load/drop do not name it)
    assert _kept(project) == [f"{rec.id}_v5.png"]


def test_stored_accepted_proposals_are_checked(project):
    rec = project.images()[0]
    mask = np.zeros((rec.height, rec.width), np.uint8)
    with pytest.raises(ProjectError, match="proposal source"):
        project.save_mask(rec.id, mask, source="user", accepted=mask)
    with pytest.raises(ProjectError, match="does not match"):
        project.save_mask(rec.id, mask, source="proposal:v1+user", accepted=mask[:5])
    project.save_mask(rec.id, mask, source="proposal:v1+user", accepted=mask)
    project.accepted_path(rec.id, 1).write_bytes(b"not a png")  # damaged: ignored, not fatal
    assert project.load_accepted(project.image(rec.id)) is None
    # a status change or an import saves without a proposal source: the file goes
    project.save_mask(rec.id, mask, source="import:voc", status=ImageStatus.DONE)
    assert _kept(project) == []


def test_only_accepted_pixels_next_to_a_label_border_are_left_out():
    labels = np.zeros((6, 8), np.uint8)
    labels[:, 4:] = 1  # one border, between columns 3 and 4
    labels[0, 0] = 255  # unlabelled
    accepted = labels.copy()
    accepted[:, 4] = 0  # the user corrected column 4 (the proposal said bg)
    accepted[0, 0] = 0
    target = to_target(labels, 2)
    # 1: the pixels touching a border (columns 3 and 4; the unlabelled corner and its
    # 4-neighbours), but column 4 was corrected, so it trains
    edge = void_accepted_border(target, labels, accepted, 1) == IGNORE
    expected = np.zeros_like(edge)
    expected[:, 3] = True
    expected[0, :2] = expected[:2, 0] = True  # the corner is unlabelled: never trained
    assert (edge == expected).all()
    # 2: those and their 8-neighbours: columns 2-5, rows and columns 0-2 at the corner
    out = void_accepted_border(target, labels, accepted, 2)
    voided = out == IGNORE
    expected[:, [2, 3, 5]] = True
    expected[:3, :3] = True
    assert (voided == expected).all()
    assert (out[~voided] == target[~voided]).all()  # nothing else changes
    assert (target == to_target(labels, 2)).all()  # the input is not written to
    wider = void_accepted_border(target, labels, accepted, 3) == IGNORE
    assert wider[:, 1].all() and wider[:, 6].all() and not wider[:, 4].any()
    assert void_accepted_border(target, labels, None, 1) is target
    assert void_accepted_border(target, labels, accepted, 0) is target


def _split_targets(project, border):
    from annotator.ml.train import TrainConfig, _split
    from annotator.services.training import build_request

    request = build_request(
        project, steps=1, config=TrainConfig(val_fraction=0.0, accepted_border=border)
    )
    train, _val = _split(request, np.random.default_rng(0))
    return {im.image_id: t.full() for im, t in train}, request


def test_training_leaves_accepted_borders_out_and_user_labels_in(project):
    a, b = project.images()
    labels = np.zeros((a.height, a.width), np.uint8)
    labels[:, 16:] = 1
    proposal = labels.copy()
    project.save_mask(a.id, labels, source="proposal:v1+user", accepted=proposal)
    project.save_mask(b.id, labels, source="user")
    targets, request = _split_targets(project, 1)
    assert {im.image_id: im.accepted is not None for im in request.images} == {
        a.id: True,
        b.id: False,
    }
    assert (targets[a.id][:, 15:17] == IGNORE).all()  # the accepted border: out
    assert (targets[a.id][:, [14, 17]] != IGNORE).all()
    assert (targets[b.id] != IGNORE).all()  # the user's own border trains
    off, _ = _split_targets(project, 0)
    assert (off[a.id] != IGNORE).all()


def test_bench_runs_save_what_the_robot_accepted_and_pass_the_setting(tmp_path):
    from annotator.bench.dataset import load_dataset
    from annotator.bench.effort import BenchConfig, run_benchmark
    from annotator.core.synthetic import synthetic_cells

    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(2):
        image, mask = synthetic_cells(seed=i, size=64, n_cells=3, noise=5)
        mask[mask == 2] = 1
        cv2.imwrite(str(root / "images" / f"im{i}.png"), image)
        cv2.imwrite(str(root / "masks" / f"im{i}.png"), mask)
    (root / "classes.txt").write_text("background\ncell\n")
    ds = load_dataset(root, root / "classes.txt")
    common = dict(train_steps=10, depth=2, width=8, crop=64, batch_size=4, seed=1)
    config = BenchConfig(
        accepted_border=2,
        mode="assisted",
        strategy="in-order",
        train_now_every=0,
        tools=("brush", "accept"),
        **common,
    )
    run = run_benchmark(ds, config, tmp_path / "run")
    assert run.images[1].accepted
    with Project.open(tmp_path / "run") as p:
        first, second = p.images()
        assert first.label_source == "robot"  # by hand: no model yet
        assert second.label_source == f"proposal:v{run.images[0].model_version}+user"
        assert p.load_accepted(second) is not None
        cards = [m.card.training.config["accepted_border"] for m in p.models()]
        assert cards == [2, 2]
    assert BenchConfig().accepted_border == 0  # off by default, as in the app
    off = run_benchmark(ds, replace(config, accepted_border=0), tmp_path / "off")
    with Project.open(tmp_path / "off") as p:
        assert [m.card.training.config["accepted_border"] for m in p.models()] == [0, 0]
    assert off.images[0].actions == run.images[0].actions  # same first image, by hand
    with pytest.raises(AnnotatorError, match="accepted-border"):
        BenchConfig(accepted_border=-1)


def test_train_refuses_a_negative_accepted_border(tmp_path, capsys):
    assert main(["new", str(tmp_path / "p"), "--classes", "a,b"]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:  # wrong by itself: the usage, exit code 2
        main(["train", str(tmp_path / "p"), "--steps", "1", "--accepted-border", "-1"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert "argument --accepted-border: '-1' is not a whole number of 0 or more" in err


def test_train_from_the_command_line_uses_the_accepted_border(project, capsys):
    a, _b = project.images()
    labels = np.zeros((a.height, a.width), np.uint8)
    labels[:, 16:] = 1
    project.save_mask(a.id, labels, source="proposal:v1+user", accepted=labels)
    root = project.root
    project.close()
    args = ["train", str(root), "--steps", "2", "--device", "cpu", "--accepted-border", "2"]
    assert main(args) == 0
    with Project.open(root) as p:
        assert p.active_model().card.training.config["accepted_border"] == 2


def test_a_save_removes_the_accepted_file_its_record_named_without_listing_the_folder(
    project, monkeypatch
):
    """It listed the accepted folder at every save (a glob growing with the project)."""
    import os

    rec = project.images()[0]
    mask = np.zeros((24, 32), np.uint8)
    accepted = np.ones((24, 32), np.uint8)
    project.save_mask(rec.id, mask, source="proposal:v1", accepted=accepted)
    assert _kept(project) == [f"{rec.id}_v1.png"]

    def listing(*_a, **_k):
        raise AssertionError("the accepted folder was listed")

    monkeypatch.setattr(Path, "glob", listing)
    monkeypatch.setattr(os, "scandir", listing)
    project.save_mask(rec.id, mask, source="proposal:v2", accepted=accepted)
    monkeypatch.undo()
    assert _kept(project) == [f"{rec.id}_v2.png"]
    project.save_mask(rec.id, mask, source="user")
    assert _kept(project) == []


def test_accepted_files_a_save_cut_short_left_are_cleared_by_the_next_writer(project):
    rec = project.images()[0]
    mask = np.zeros((24, 32), np.uint8)
    project.save_mask(rec.id, mask, source="proposal:v2", accepted=np.ones((24, 32), np.uint8))
    stray = project.accepted_path(rec.id, 3)  # written, then killed before the record
    stray.write_bytes(project.accepted_path(rec.id, 2).read_bytes())
    root = project.root
    project.close()
    with Project.open(root) as again:
        assert _kept(again) == [f"{rec.id}_v2.png"]
        assert again.load_accepted(again.image(rec.id)) is not None


def test_a_lone_accepted_file_no_record_names_is_cleared_by_the_next_writer(project):
    """Only images with two or more files were looked at: one left by a kill between the
    record and the unlink (or by a removed image) stayed for good."""
    rec = project.images()[0]
    project.save_mask(rec.id, np.zeros((24, 32), np.uint8), source="user")
    lone = project.accepted_path(rec.id, 4)
    lone.parent.mkdir(exist_ok=True)
    lone.write_bytes(b"left over")
    root = project.root
    project.close()
    with Project.open(root) as again:
        assert _kept(again) == []


def test_the_proposal_masks_undo_needs_are_kept_and_counted_in_the_cap(project):
    """Each version copied from kept its whole mask for as long as the image was open,
    counted nowhere: with a new version every minute, a W dab after each held hundreds
    of megabytes, and the cap then dropped every other image's undo."""
    session = AnnotationSession(project)
    rec = project.images()[0]
    doc = session.open_image(rec.id)
    shape = doc.label_map.array.shape
    mask_bytes = shape[0] * shape[1]
    for v in range(1, 9):  # a dab of each version's proposal
        doc.paint_proposal([(1.0 + 3 * v, 12.0)], 1, _proposal(shape, v))
    assert doc.label_source == "proposal:v8+user"
    assert set(doc._proposal_masks) == {f"proposal:v{v}+user" for v in range(1, 9)}
    assert doc.held_bytes == doc.history.nbytes + 8 * mask_bytes
    # a gesture that changed nothing keeps no mask once the next one lands
    doc.paint_proposal([(1.0 + 3 * 8, 12.0)], 1, _proposal(shape, 9))
    doc.paint_stroke([(2, 2)], 1, 1)
    assert "proposal:v9+user" not in doc._proposal_masks
    # the cap counts the masks: the oldest steps, and the masks only they named, go
    doc.history.max_bytes = doc.history.nbytes + 3 * mask_bytes
    doc.paint_proposal([(2.0, 20.0)], 1, _proposal(shape, 10))
    assert doc.held_bytes <= doc.history.max_bytes
    named = {doc._base_source, *doc._undo_tags}
    assert "proposal:v10+user" in doc._proposal_masks
    assert set(doc._proposal_masks) <= named and len(doc._proposal_masks) < 8
    while doc.undo() is not None:  # every step left still finds the mask it names
        assert doc.label_source == "user" or doc.accepted_mask is not None
    session.close()
