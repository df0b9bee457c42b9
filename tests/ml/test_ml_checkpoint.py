"""Checkpoints are data: safe loading, class checks, atomic files, ONNX export."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from annotator.core.card import ModelCard
from annotator.core.errors import ModelError
from annotator.ml.checkpoint import checkpoint_bytes, load_checkpoint, onnx_bytes
from annotator.ml.networks import NetworkConfig, build_network
from annotator.ml.unet import UNet
from annotator.storage.models import CARD_NAME, CHECKSUM_NAME, WEIGHTS_NAME, write_version_folder


class Payload:
    """Unpickling this would run code; a safe loader must refuse the file."""

    def __reduce__(self):
        return (print, ("arbitrary code ran",))


def _save_tiny(folder, classes=("bg", "fg")):
    """A tiny network's version folder; returns the weights file."""
    cfg = NetworkConfig(1, len(classes), depth=2, width=4)
    model = build_network(cfg)
    card = ModelCard(version=1, architecture=cfg.to_dict(), classes=tuple(classes))
    write_version_folder(folder, checkpoint_bytes(model.state_dict(), card), card)
    return folder / WEIGHTS_NAME


def test_a_checkpoint_with_pickled_objects_is_refused(tmp_path, capsys):
    evil = tmp_path / "evil.pt"
    torch.save({"format": "annotator-unet/1", "card": "{}", "state_dict": {}, "x": Payload()}, evil)
    with pytest.raises(ModelError, match="refused"):
        load_checkpoint(evil)
    assert "arbitrary code ran" not in capsys.readouterr().out


def test_loading_uses_weights_only(tmp_path, monkeypatch):
    weights = _save_tiny(tmp_path / "v1")
    seen = {}
    real = torch.load

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    load_checkpoint(weights)
    assert seen.get("weights_only") is True


def test_class_mismatch_is_refused_with_a_clear_message(tmp_path):
    weights = _save_tiny(tmp_path / "v1", ("background", "cell"))
    with pytest.raises(
        ModelError,
        match=r"trained for classes \(background, cell\) other than the project's "
        r"\(background, cell, nucleus\); .*--from-scratch",
    ):
        load_checkpoint(weights, ["background", "cell", "nucleus"])
    with pytest.raises(ModelError, match="trained for classes"):
        load_checkpoint(weights, ["cell", "background"])
    # Same names, other case: accepted (class names are case-insensitive in a schema).
    assert load_checkpoint(weights, ["Background", "Cell"]).class_names == [
        "background",
        "cell",
    ]


def test_files_that_are_not_checkpoints_are_refused(tmp_path):
    with pytest.raises(ModelError, match="no such"):
        load_checkpoint(tmp_path / "missing")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a zip file at all")
    with pytest.raises(ModelError):
        load_checkpoint(junk)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(ModelError, match="not an Annotator model checkpoint"):
        load_checkpoint(other)


def test_checkpoint_and_card_are_written_without_temporary_leftovers(tmp_path):
    _save_tiny(tmp_path / "v1")
    assert [p.name for p in tmp_path.iterdir()] == ["v1"]
    names = sorted(p.name for p in (tmp_path / "v1").iterdir())
    assert names == [CARD_NAME, WEIGHTS_NAME, CHECKSUM_NAME]
    card = ModelCard.from_json((tmp_path / "v1" / CARD_NAME).read_text())
    assert card.classes == ("bg", "fg") and card.format == "annotator-unet/1"


def test_the_card_inside_the_checkpoint_is_the_card_beside_it(tmp_path):
    weights = _save_tiny(tmp_path / "v1", ("background", "cell"))
    beside = ModelCard.from_json((tmp_path / "v1" / CARD_NAME).read_text())
    assert load_checkpoint(weights).card == beside


def test_onnx_export_agrees_with_torch(tmp_path):
    from annotator.ml.onnx_runtime import OnnxRunner
    from annotator.ml.predict import TorchRunner

    torch.manual_seed(3)
    model = UNet(NetworkConfig(1, 3, depth=2, width=8, arch="unet")).eval()
    path = tmp_path / "model.onnx"
    path.write_bytes(onnx_bytes(model))
    x = np.random.default_rng(0).normal(size=(2, 1, 48, 80)).astype(np.float32)
    onnx_p = OnnxRunner(path)(x)
    torch_p = TorchRunner(model, torch.device("cpu"))(x)
    assert onnx_p.shape == (2, 3, 48, 80)
    np.testing.assert_allclose(onnx_p, torch_p, atol=1e-4)
    np.testing.assert_allclose(onnx_p.sum(axis=1), 1.0, atol=1e-5)


def test_a_model_of_fewer_classes_is_accepted_only_when_asked(tmp_path):
    weights = _save_tiny(tmp_path / "v1", ("background", "cell"))
    names = ["background", "cell", "nucleus"]
    loaded = load_checkpoint(weights, names, allow_new_classes=True)
    assert loaded.class_names == ["background", "cell"]
    with pytest.raises(ModelError, match="trained for classes"):
        load_checkpoint(weights, ["cell", "background", "x"], allow_new_classes=True)


def test_widened_head_keeps_old_outputs_and_never_proposes_the_new_class_untrained():
    from annotator.ml.checkpoint import widen_head

    torch.manual_seed(0)
    model = UNet(NetworkConfig(1, 2, depth=2, width=4, arch="unet")).eval()
    wider = widen_head(model, 3).eval()
    assert wider.config.n_classes == 3 and wider.head.out_channels == 3
    x = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        old, new = model(x), wider(x)
    torch.testing.assert_close(new[:, :2], old)
    assert (new.argmax(1) == old.argmax(1)).all()
    with pytest.raises(ModelError, match="only grow"):
        widen_head(model, 1)


def test_a_plain_pickle_and_a_truncated_checkpoint_are_refused_in_one_whole_sentence(
    tmp_path, recwarn
):
    """A pickle printed torch's 2-line UserWarning before the refusal; a truncated file's
    message ended mid-sentence ("...that your checkpoint file is)")."""
    import pickle
    import warnings

    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps({"a": 1}, protocol=4))
    warnings.simplefilter("always")
    with pytest.raises(ModelError, match="refused to load: it is a Python pickle"):
        load_checkpoint(plain)
    assert [str(w.message) for w in recwarn] == []
    whole = tmp_path / "whole.pt"
    torch.save({"state_dict": {"w": torch.zeros(1000)}}, whole)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(ModelError) as refused:
        load_checkpoint(truncated)
    said = str(refused.value)
    # one plain sentence: no exception class, no torch text ("internal miniz error")
    assert said == (
        f"{truncated} is not a model file Annotator can read (a damaged or incomplete "
        "file, or another kind of file)"
    )


class _RunsCode:
    """A pickle of it would call ``print`` when loaded (weights_only never does)."""

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (print, ("loaded",))


def test_a_checkpoint_needing_code_is_refused_naming_what_it_needs(tmp_path, capsys):
    """It said "does not read as plain data (a damaged file, another kind of file, or one
    that needs Python code...)" of junk bytes and of code alike."""
    bad = tmp_path / "bad.pt"
    torch.save({"format": 1, "card": _RunsCode()}, bad)
    with pytest.raises(ModelError) as refused:
        load_checkpoint(bad)
    said = str(refused.value)
    assert said.startswith(f"{bad}: refused to load: it needs Python code to be read (")
    assert "print" in said and "damaged" not in said
    assert "loaded" not in capsys.readouterr().out  # never run
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelError) as refused:
        load_checkpoint(junk)
    assert str(refused.value) == (
        f"{junk} is not a model file Annotator can read (a damaged or incomplete file, or "
        "another kind of file)"
    )
