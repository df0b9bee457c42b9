"""A Channel Choice of more than three channels (docs/adr/0030, amended): models trained
from scratch take every chosen channel, each in its own window; the display shows the
first three."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import FAST
from modelhelpers import choice_round, trained_iou

from annotator.core.errors import ModelError
from annotator.ml.checkpoint import onnx_bytes
from annotator.ml.data import choose_in_channels, fit_normalizer
from annotator.ml.networks import NetworkConfig, build_network
from annotator.ml.predict import Predictor

FIVE = (0, 1, 2, 3, 4)


def band5_picture(seed: int, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """16-bit, 5 channels: discs brighter only in channel 5; channels 1-4 are noise of
    their own levels, alike on and off the discs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    truth = np.zeros((size, size), np.uint8)
    for _ in range(3):
        cy, cx = rng.integers(12, size - 12, 2)
        truth[(yy - cy) ** 2 + (xx - cx) ** 2 < int(rng.integers(7, 11)) ** 2] = 1
    bands = [1000 * (c + 1) + rng.integers(0, 800, (size, size)) for c in range(4)]
    fifth = 5000 + rng.normal(0, 100, (size, size)) + 900.0 * truth
    return np.clip(np.dstack([*bands, fifth]), 0, 65535).astype(np.uint16), truth


def test_a_wide_choice_gives_a_network_of_as_many_inputs_and_only_those():
    assert choose_in_channels([5, 5], FIVE) == 5
    assert choose_in_channels([5, 5], (3, 2, 1)) == 3  # (three or fewer: as before)
    config = NetworkConfig(5, 2, depth=2, width=4, channel_choice=FIVE)
    assert NetworkConfig.from_dict(config.to_dict()) == config
    assert build_network(config)(torch.zeros(1, 5, 32, 32)).shape == (1, 2, 32, 32)
    for wrong in (3, 4, 6):
        with pytest.raises(ModelError, match="5 input channels"):
            NetworkConfig(wrong, 2, channel_choice=FIVE)


def test_the_normalizer_gives_every_chosen_channel_in_its_own_window():
    image, _ = band5_picture(0)
    normalizer = fit_normalizer(image, 5)
    assert len(normalizer.windows) == 5
    out = normalizer.apply(image)
    assert out.shape == (5, 64, 64)
    for c, (low, high) in enumerate(normalizer.windows):
        assert 1000 * (c + 1) - 1 <= low < 1000 * (c + 1) + 900 or c == 4
        want = (image[..., c].astype(np.float32) - low) * np.float32(4.0 / (high - low)) - 2
        np.testing.assert_allclose(out[c], want, atol=1e-4)
    eight = (image // 256).astype(np.uint8)  # 8-bit: scaled by the dtype, five channels
    np.testing.assert_allclose(
        fit_normalizer(eight, 5).apply(eight), np.moveaxis(eight, 2, 0) / 255 * 4 - 2, atol=1e-5
    )
    with pytest.raises(ModelError, match="takes 5 channels and the picture has 3"):
        fit_normalizer(image[..., :3], 5).apply(image[..., :3])


def test_a_five_channel_network_proposes_through_torch_and_onnxruntime_alike(tmp_path):
    from annotator.ml.onnx_runtime import OnnxRunner

    torch.manual_seed(0)
    config = NetworkConfig(5, 2, depth=2, width=4, channel_choice=FIVE)
    model = build_network(config).eval()
    path = tmp_path / "m.onnx"
    path.write_bytes(onnx_bytes(model, example_size=32))
    image = np.ascontiguousarray(band5_picture(1)[0][:48, :40])
    got = Predictor(OnnxRunner(path, threads=1), config, 1, "onnxruntime").predict(image)
    want = Predictor.from_model(model, device="cpu").predict(image)
    assert got.probabilities.shape[1:] == (48, 40)
    np.testing.assert_allclose(
        got.probabilities.astype(np.float32), want.probabilities.astype(np.float32), atol=2e-3
    )
    # channel 5 reaches the network: another fifth channel, another proposal
    other = image.copy()
    other[..., 4] = other[..., 4][::-1]
    again = Predictor.from_model(model, device="cpu").predict(other)
    assert not np.array_equal(again.probabilities, want.probabilities)


@pytest.mark.slow
def test_a_model_of_choice_1_to_5_learns_a_class_seen_only_in_channel_5():
    """150 steps of a tiny network at 64x64 (about 8 CPU s a run). Measured: disc IoU on
    unseen pictures 0.23 with the first three channels, 0.99 with all five."""
    pictures = [band5_picture(i) for i in range(3)]
    tests = [band5_picture(s) for s in (10, 11)]
    iou = {}
    for choice, in_channels in (((0, 1, 2), 3), (FIVE, 5)):
        _, result = choice_round(pictures, choice, in_channels, replace(FAST, val_fraction=0.0))
        assert result.network.in_channels == in_channels
        iou[choice] = trained_iou(result, tests)
    assert iou[FIVE] > 0.85 and iou[(0, 1, 2)] < 0.5, iou


def test_a_project_of_choice_1_to_5_trains_and_proposes_with_five_channels(tmp_path, capsys):
    """End to end: train records the five channels on the card and in its ONNX file;
    predict proposes (torch and onnxruntime alike) on the five-channel pictures and
    gives none to an RGB picture, which lacks channels 4 and 5."""
    import cv2
    import onnx
    import tifffile

    from annotator.cli import main
    from annotator.core.schema import LabelSchema
    from annotator.core.status import ImageStatus
    from annotator.services.proposals import load_predictor
    from annotator.storage import models as model_store
    from annotator.storage.project import Project

    folder = tmp_path / "imgs"
    folder.mkdir()
    truths = {}
    for i in range(2):
        image, truths[f"five{i}.tif"] = band5_picture(i)
        tifffile.imwrite(folder / f"five{i}.tif", image, photometric="minisblack")
    rgb, truths["rgb.png"] = band5_picture(3)
    cv2.imwrite(str(folder / "rgb.png"), (rgb[..., :3] // 256).astype(np.uint8))
    root = tmp_path / "P"
    with Project.create(root, LabelSchema.from_names(["bg", "disc"])) as p:
        p.add_images([folder])
        for rec in p.images():
            if rec.name in truths:
                p.save_mask(rec.id, truths[rec.name], status=ImageStatus.DONE)
    assert main(["channels", str(root), "--use", "1,2,3,4,5"]) == 0
    tiny = ["--steps", "2", "--device", "cpu", "--depth", "2", "--width", "8"]
    assert main(["train", str(root), *tiny]) == 0
    err = capsys.readouterr().err
    assert "1 picture lacks channel 5 of the Channel Choice 1,2,3,4,5 and is left out" in err
    with Project.open(root, lock=False) as p:
        record = p.active_model()
        card = record.card
        files = model_store.model_files(p, record)
        probabilities = {}
        for backend in ("torch", "onnx"):  # (backend "onnx": onnxruntime, else an error)
            predictor = load_predictor(p, device="cpu", backend=backend)
            probabilities[backend] = predictor.predict(band5_picture(7)[0]).probabilities
    assert card.channel_choice == FIVE and card.input_channels == 5
    assert "input: the picture's channels 1, 2, 3, 4, 5 (from 1)" in card.normalisation
    graph = onnx.load(str(files.onnx)).graph
    assert graph.input[0].type.tensor_type.shape.dim[1].dim_value == 5
    np.testing.assert_allclose(
        probabilities["onnx"].astype(np.float32),
        probabilities["torch"].astype(np.float32),
        atol=2e-3,
    )
    assert main(["predict", str(root), "--device", "cpu"]) == 0
    out, err = capsys.readouterr()
    assert "lacks channel 5 of the Channel Choice 1,2,3,4,5 and gets no proposal: rgb.png" in err
    assert "wrote 2 proposal(s) from model v1" in out
