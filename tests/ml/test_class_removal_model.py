"""A class taken out of a project: the active model loses exactly that output."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import FAST, TINY, make_cells_project

from annotator.cli import main
from annotator.core.errors import ModelError, ProjectError, SchemaError
from annotator.ml.checkpoint import load_checkpoint
from annotator.ml.networks import build_network, rearrange_classes
from annotator.services import proposals, training
from annotator.services.class_changes import take_out_class
from annotator.storage import models as model_store


@pytest.fixture
def trained(tmp_path):
    project = make_cells_project(tmp_path / "p")  # background, cell, nucleus
    training.train_project(project, steps=3, network=TINY, config=FAST, device="cpu")
    yield project
    project.close()


def _logits(project, record, x):
    loaded = load_checkpoint(model_store.model_files(project, record).weights)
    with torch.no_grad():
        return loaded.build_model().eval()(x)


def test_rearranged_outputs_are_the_old_ones_and_new_ones_stay_silent():
    model = build_network(TINY).eval()
    x = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        old = model(x)
        kept = rearrange_classes(model, [2, 0]).eval()(x)
        grown = rearrange_classes(model, [0, 1, 2, None]).eval()(x)
    assert torch.allclose(kept, old[:, [2, 0]], atol=1e-5)
    assert torch.equal(grown.argmax(1), old.argmax(1))  # the new output wins nowhere
    for bad in ([], [0, 0], [3]):
        with pytest.raises(ModelError):
            rearrange_classes(model, bad)


def test_merge_makes_a_child_version_without_the_class_and_training_continues_it(trained):
    project = trained
    parent = project.active_model()
    x = torch.rand(1, 1, 64, 64)
    before = _logits(project, parent, x)
    result = take_out_class(
        project, project.schema.by_name("cell"), project.schema.by_name("nucleus")
    )
    child = result.model
    assert child is not None and child.parent == parent.version
    assert project.active_model().version == child.version
    assert child.card.classes == ("background", "nucleus")
    assert child.card.adapted == f"v{parent.version}, merged 'cell' into 'nucleus'"
    assert child.card.mean_iou is None  # the scores were of the old classes
    assert child.card.train_images == parent.card.train_images
    weights = parent.card.training.class_weights
    if weights is not None:
        assert child.card.training.class_weights == (weights[0], weights[2])
    assert torch.allclose(_logits(project, child, x), before[:, [0, 2]], atol=1e-5)
    assert "the next rounds continue it" in result.summary()
    # it proposes the new classes at once (ONNX export included), and a round goes on
    image = project.load_image(project.images()[0])
    predictor = proposals.load_predictor(project, device="cpu")
    assert predictor.version == child.version and predictor.predict(image).mask.max() <= 1
    nxt = training.train_project(project, steps=2, config=FAST, device="cpu", export_onnx=False)
    assert nxt.model.parent == child.version and nxt.model.card.classes == child.card.classes


def test_a_class_the_model_never_learnt_leaves_it_alone(trained):
    project = trained
    project.set_schema(project.schema.with_class("organelle"))
    before = project.active_model().version
    result = take_out_class(project, project.schema.by_name("organelle"))
    assert result.model is None and project.active_model().version == before
    assert "never learnt 'organelle'; it is unchanged" in result.model_note


def test_a_model_of_other_classes_is_not_adapted(trained):
    project = trained
    project.set_schema(project.schema.renamed(1, "organelle"))
    result = take_out_class(project, project.schema.by_name("nucleus"))
    assert result.model is None and "trained for other classes already" in result.model_note
    assert project.schema.names == ["background", "organelle"]


def test_a_damaged_active_model_changes_the_labels_and_says_so(trained):
    project = trained
    weights = model_store.model_files(project, project.active_model()).weights
    weights.write_bytes(b"not a checkpoint")
    result = take_out_class(project, project.schema.by_name("cell"))
    assert project.schema.names == ["background", "nucleus"]
    assert result.model is None and "could not be adapted" in result.model_note
    assert "train from scratch" in result.model_note


def test_a_cancel_while_adapting_changes_nothing(trained):
    """The model is adapted before the labels are staged: Cancel then stops it all."""
    project = trained

    class Stop(Exception):
        pass

    def cancel(done, total, message):
        if message.startswith("adapting"):
            raise Stop

    with pytest.raises(Stop):
        take_out_class(project, project.schema.by_name("nucleus"), progress=cancel)
    assert project.schema.names == ["background", "cell", "nucleus"]
    assert [m.version for m in project.models()] == [1]


def test_the_labels_and_the_adapted_version_commit_together(trained, monkeypatch):
    """A failed commit leaves neither (no unrecorded folder either); a good one both:
    never labels of the new ids with only a model of the old (a crash in between used
    to leave one)."""
    project = trained
    mask_before = project.load_mask(project.images()[0])

    def refused(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(type(project), "commit_class_change", refused)
    with pytest.raises(ProjectError, match="No space left on device; the classes and"):
        take_out_class(project, project.schema.by_name("cell"))
    monkeypatch.undo()
    assert project.schema.names == ["background", "cell", "nucleus"]
    assert [m.version for m in project.models()] == [1]
    assert not (project.root / "models" / "v0002").exists()
    assert np.array_equal(project.load_mask(project.images()[0]), mask_before)
    take_out_class(project, project.schema.by_name("cell"))
    assert project.active_model().version == 2 and project.schema.names == ["background", "nucleus"]


def test_the_command_line_merges_and_removes(trained, capsys):
    root = str(trained.root)
    trained.close()
    assert main(["classes", root, "--merge", "nucleus", "cell"]) == 0
    out = capsys.readouterr().out
    assert "Merged 'nucleus' into 'cell';" in out and "Model v2 is v1 without" in out
    assert main(["models", root]) == 0
    assert "adapted from v1, merged 'nucleus' into 'cell' (not trained since)" in (
        capsys.readouterr().out
    )
    for bad, said in (
        (["--remove", "nucleus"], "no class 'nucleus'; the classes are background, cell"),
        (["--merge", "cell", "cell"], "cannot merge 'cell' into itself"),
    ):
        assert main(["classes", root, *bad]) == 1
        assert said in capsys.readouterr().err
    assert main(["classes", root, "--remove", "0"]) == 0
    assert "Removed 'background';" in capsys.readouterr().out
    assert main(["classes", root, "--remove", "cell"]) == 1
    assert "at least one class" in capsys.readouterr().err
    assert main(["classes", root]) == 0
    assert capsys.readouterr().out.split()[-1] == "cell"


def test_a_move_permutes_the_model_s_outputs_and_keeps_its_scores(trained):
    from annotator.services.class_changes import move_class

    project = trained
    parent = project.active_model()
    x = torch.rand(1, 1, 64, 64)
    before = _logits(project, parent, x)
    result = move_class(project, project.schema.by_name("nucleus"), 0)
    child = result.model
    assert child.card.classes == ("nucleus", "background", "cell")
    assert torch.allclose(_logits(project, child, x), before[:, [2, 0, 1]], atol=1e-5)
    assert child.card.metrics == parent.card.metrics  # kept by class name
    assert "with its outputs in the classes' new order" in result.model_note
    with pytest.raises(SchemaError, match="has id 0 already"):
        move_class(project, project.schema.by_name("nucleus"), 0)


def test_a_class_the_model_never_learnt_moved_before_the_others_gets_a_silent_output(trained):
    from annotator.services.class_changes import move_class

    project = trained
    project.set_schema(project.schema.with_class("organelle"))
    parent = project.active_model()
    x = torch.rand(1, 1, 64, 64)
    before = _logits(project, parent, x)
    child = move_class(project, project.schema.by_name("organelle"), 1).model
    assert child.card.classes == ("background", "organelle", "cell", "nucleus")
    after = _logits(project, child, x)
    assert torch.allclose(after[:, [0, 2, 3]], before, atol=1e-5)
    assert torch.equal(after.argmax(1), torch.tensor([0, 2, 3])[before.argmax(1)])
    assert main(["classes", str(project.root), "--move", "organelle", "7"]) == 1


def test_moves_back_and_forth_never_push_out_the_trained_versions(trained):
    """One adapted version per step: 22 steps removed the files of v1 they came from."""
    from annotator.services import versions
    from annotator.services.class_changes import move_class

    project = trained
    versions.set_keep_versions(project, 2)
    for _ in range(3):
        move_class(project, project.schema.by_name("nucleus"), 0)
        move_class(project, project.schema.by_name("nucleus"), 2)
    kept = versions.stored(project)
    active = project.active_model().version
    assert 1 in kept and active in kept and len(kept) == 2
