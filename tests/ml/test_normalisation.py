"""Input normalisation per channel (ADR 0027): what a new model sees, and old versions
keep the pooled window they learnt."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import FAST
from modelhelpers import trained_iou

import annotator.ml.train as train_mod
from annotator.core.card import ModelCard
from annotator.core.errors import ModelError
from annotator.ml.checkpoint import checkpoint_bytes, load_checkpoint, onnx_bytes
from annotator.ml.data import _LUMA, Normalizer, fit_normalizer
from annotator.ml.networks import NetworkConfig, build_network
from annotator.ml.predict import Predictor, TorchRunner, predict_tiled
from annotator.ml.train import TrainImage, TrainRequest, train_round
from annotator.services.training import make_card
from annotator.storage.models import WEIGHTS_NAME, write_version_folder


def audit_picture(size: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 16-bit RGB picture like the audit's: red 1134-1390 holds the class (60 levels
    brighter on it), green 567-695 is noise, blue sits at 30000. Returns it and the
    class map."""
    rng = np.random.default_rng(seed)
    truth = np.zeros((size, size), bool)
    truth[:, size // 2 :] = True
    red = 1134 + rng.integers(0, 197, (size, size)) + 60 * truth
    green = rng.integers(567, 696, (size, size))
    blue = np.full((size, size), 30000)
    return np.dstack([red, green, blue]).astype(np.uint16), truth


def class_contrast(x: np.ndarray, truth: np.ndarray) -> float:
    """The class's mean difference in normalised units (``x``: one channel)."""
    return float(x[truth].mean() - x[~truth].mean())


def old_rule(image: np.ndarray, in_channels: int) -> np.ndarray:
    """The normalisation before this rule, written out: one 0.5-99.5 percentile window
    over the first three channels, luma of the raw values."""
    flat = image[..., :3].reshape(-1).astype(np.float64)
    low, high = np.percentile(flat, [0.5, 99.5])
    rgb = image[..., :3].astype(np.float32)
    if in_channels == 1:
        rgb = (rgb[..., 0] * _LUMA[0] + rgb[..., 1] * _LUMA[1] + rgb[..., 2] * _LUMA[2])[..., None]
    return (np.moveaxis(rgb, 2, 0) - np.float32(low)) * np.float32(4 / (high - low)) - 2


def test_a_class_seen_only_in_a_low_range_channel_keeps_its_contrast():
    image, truth = audit_picture()
    new = fit_normalizer(image, 3).apply(image)
    old = fit_normalizer(image, 3, "pooled").apply(image)
    assert np.allclose(old, old_rule(image, 3), atol=1e-5)
    red_new, red_old = class_contrast(new[0], truth), class_contrast(old[0], truth)
    assert red_new > 0.3 and red_old < 0.01, (red_new, red_old)
    # the channels span the input range each (the flat blue at its low end, as shown)
    assert new[0].max() - new[0].min() > 3.5 and new[1].max() - new[1].min() > 3.5
    assert (new[2] == -2).all()


def test_two_channels_get_a_window_each_and_magenta_shares_the_first():
    image, truth = audit_picture()
    two = image[..., [0, 2]].copy()  # the class in the first (magenta), 30000 in the second
    two[..., 1] += (np.arange(64) * 50).astype(np.uint16)[None]  # a range of its own
    new = fit_normalizer(two, 3).apply(two)
    old = fit_normalizer(two, 3, "pooled").apply(two)
    assert np.array_equal(new[0], new[2])
    assert class_contrast(new[0], truth) > 0.3 > 0.01 > class_contrast(old[0], truth)
    assert new[1].min() == pytest.approx(-2, abs=0.1) and new[1].max() == pytest.approx(2, abs=0.1)


def test_a_grey_model_takes_the_luminance_of_the_channels_as_shown():
    """Luma after the per-channel windows: the grey of the picture as displayed, in the
    range a grey picture enters with, not the blue channel's grey."""
    image, truth = audit_picture()
    grey = fit_normalizer(image, 1).apply(image)
    colour = fit_normalizer(image, 3).apply(image)
    luma = colour[0] * _LUMA[0] + colour[1] * _LUMA[1] + colour[2] * _LUMA[2]
    assert grey.shape == (1, 64, 64) and np.array_equal(grey[0], luma)
    old = fit_normalizer(image, 1, "pooled").apply(image)
    assert np.allclose(old, old_rule(image, 1), atol=1e-5)
    assert class_contrast(grey[0], truth) > 0.2 > 0.01 > class_contrast(old[0], truth)


@pytest.mark.parametrize("in_channels", [1, 3])
@pytest.mark.parametrize(
    "image",
    [
        np.random.default_rng(1).integers(0, 256, (40, 50, 3)).astype(np.uint8),
        np.random.default_rng(2).integers(0, 256, (40, 50, 2)).astype(np.uint8),
        np.random.default_rng(3).integers(900, 4000, (40, 50)).astype(np.uint16),
        np.random.default_rng(4).integers(900, 4000, (40, 50, 1)).astype(np.uint16),
        np.random.default_rng(5).random((40, 50)).astype(np.float32),
    ],
    ids=["rgb8", "two8", "grey16", "grey16x1", "greyfloat"],
)
def test_grey_and_eight_bit_pictures_are_normalised_exactly_as_before(image, in_channels):
    new = fit_normalizer(image, in_channels)
    assert new.windows == ()
    assert np.array_equal(
        new.apply(image), fit_normalizer(image, in_channels, "pooled").apply(image)
    )


def test_float_channels_leave_out_no_data_and_the_input_stays_finite():
    image, truth = audit_picture()
    pic = image.astype(np.float32)
    pic[:5, :5, 0] = np.nan
    pic[10, 10, 1] = np.inf
    norm = fit_normalizer(pic, 3)
    assert all(np.isfinite(w).all() for w in norm.windows)
    x = norm.apply(pic)
    assert np.isfinite(x).all() and (x[0, :5, :5] == -2).all() and x[1, 10, 10] == 2
    assert class_contrast(x[0, 5:, 5:], truth[5:, 5:]) > 0.3


def test_an_unknown_rule_is_refused_in_one_line():
    with pytest.raises(ModelError, match="normalisation 'zscore'"):
        fit_normalizer(np.zeros((4, 4, 3), np.uint16), 3, "zscore")
    with pytest.raises(ModelError, match="newer Annotator"):
        NetworkConfig.from_dict({"in_channels": 3, "normalisation": "zscore"})


# --- what a version records -----------------------------------------------------------------
def save_version(folder, config: NetworkConfig, *, old_style: bool, seed: int = 0):
    """A version folder of a random network; ``old_style``: its card has no
    ``normalisation`` (as every version made before the rule was recorded)."""
    torch.manual_seed(seed)
    model = build_network(config)
    arch = config.to_dict()
    if old_style:
        del arch["normalisation"]
    card = ModelCard(version=1, architecture=arch, classes=("bg", "fg"))
    write_version_folder(folder, checkpoint_bytes(model.state_dict(), card), card)
    return folder / WEIGHTS_NAME, model


CONFIG = NetworkConfig(3, 2, depth=2, width=4)


def test_a_new_network_takes_per_channel_and_an_old_card_means_pooled():
    assert NetworkConfig().normalisation == "per-channel"
    assert CONFIG.to_dict()["normalisation"] == "per-channel"
    old = CONFIG.to_dict()
    del old["normalisation"]
    assert NetworkConfig.from_dict(old).normalisation == "pooled"
    assert NetworkConfig.from_dict(CONFIG.to_dict()) == CONFIG


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_an_old_version_predicts_exactly_as_before_and_a_new_one_per_channel(tmp_path, backend):
    image, _ = audit_picture(96)
    expected = {}
    for old_style in (True, False):
        weights, model = save_version(tmp_path / str(old_style), CONFIG, old_style=old_style)
        onnx = None
        if backend == "onnx":
            onnx = weights.parent / "model.onnx"
            onnx.write_bytes(onnx_bytes(model))
        predictor = Predictor.from_checkpoint(weights, onnx=onnx, backend=backend, device="cpu")
        assert predictor.backend.startswith("onnx" if backend == "onnx" else "torch")
        got = predictor.predict(image, keep_probabilities=True).probabilities
        runner = TorchRunner(model.eval(), torch.device("cpu"))
        rule = "pooled" if old_style else "per-channel"
        assert load_checkpoint(weights).network.normalisation == rule
        for r in ("pooled", "per-channel"):
            norm = fit_normalizer(image, 3, r)
            ref = predict_tiled(runner, image, norm, 2, CONFIG.multiple, keep_probabilities=True)
            expected[r] = ref.probabilities
        assert np.allclose(got, expected[rule], atol=2e-3 if backend == "onnx" else 0)
        other = "per-channel" if old_style else "pooled"
        gap = np.abs(got.astype(np.float32) - expected[other]).max()
        assert gap > 0.01
    if backend == "torch":  # the old rule, written out, is what the old version gets
        pooled = Normalizer(*np.percentile(image.reshape(-1), [0.5, 99.5]), 3)
        assert np.array_equal(pooled.apply(image), fit_normalizer(image, 3, "pooled").apply(image))


@pytest.mark.parametrize("old_style", [True, False])
def test_training_on_from_a_version_keeps_its_rule(tmp_path, monkeypatch, old_style):
    image, truth = audit_picture(64)
    mask = np.full(truth.shape, 255, np.uint8)
    mask[::4, ::4] = truth[::4, ::4]
    weights, _ = save_version(tmp_path / "v1", CONFIG, old_style=old_style)
    rules = []
    real = train_mod.fit_normalizer

    def spy(pixels, in_channels, rule="(none given)"):
        rules.append(rule)
        return real(pixels, in_channels, rule)

    monkeypatch.setattr(train_mod, "fit_normalizer", spy)
    request = TrainRequest(
        (TrainImage(1, "a", image, mask),),
        ("bg", "fg"),
        CONFIG,  # what a round from scratch would take: the parent's rule wins
        init_checkpoint=weights,
        parent_version=1,
        max_steps=2,
        config=replace(FAST, val_fraction=0.0, batch_size=2, crop=32),
        device="cpu",
    )
    result = train_round(request)
    want = "pooled" if old_style else "per-channel"
    assert result.network.normalisation == want
    assert rules and set(rules) == {want}
    card = ModelCard.from_json(make_card(request, result, 2).to_json())
    assert NetworkConfig.from_dict(dict(card.architecture)).normalisation == want
    assert ("each channel" in card.normalisation) is (not old_style)


def test_a_round_from_scratch_takes_per_channel_and_the_card_says_so():
    image, truth = audit_picture(64)
    mask = np.full(truth.shape, 255, np.uint8)
    mask[::4, ::4] = truth[::4, ::4]
    request = TrainRequest(
        (TrainImage(1, "a", image, mask),),
        ("bg", "fg"),
        CONFIG,
        max_steps=2,
        config=replace(FAST, val_fraction=0.0, batch_size=2, crop=32),
        device="cpu",
    )
    result = train_round(request)
    assert result.network.normalisation == "per-channel"
    card = ModelCard.from_json(make_card(request, result, 1).to_json())
    assert card.architecture["normalisation"] == "per-channel"
    assert "percentiles, each channel its own (first three); height and width padded" in (
        card.normalisation
    )


def cells_picture(seed: int, blue: int, size: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """16-bit RGB: discs 150 levels brighter in red (1134 + noise), green noise, a blue
    of ``blue`` +- 2000 that changes from picture to picture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    truth = np.zeros((size, size), np.uint8)
    for _ in range(4):
        cy, cx = rng.integers(15, size - 15, 2)
        truth[(yy - cy) ** 2 + (xx - cx) ** 2 < int(rng.integers(8, 14)) ** 2] = 1
    red = 1134 + rng.normal(0, 30, truth.shape) + 150 * truth
    green = rng.integers(567, 696, truth.shape)
    other = blue + rng.normal(0, 2000, truth.shape)
    return np.clip(np.dstack([red, green, other]), 0, 65535).astype(np.uint16), truth


@pytest.mark.slow
def test_a_model_per_channel_learns_a_class_the_pooled_window_hides():
    """150 steps of a tiny network (~5 CPU s a rule): discs seen only in red, blue at
    8000-50000. Measured: pooled 0.0 cell IoU on unseen pictures, per channel 0.99."""

    train = [cells_picture(s, b) for s, b in [(0, 30000), (1, 8000), (2, 50000)]]
    test = [cells_picture(s, b) for s, b in [(10, 20000), (11, 40000)]]
    images = []
    for i, (im, truth) in enumerate(train):
        mask = np.full(truth.shape, 255, np.uint8)
        mask[::3, ::3] = truth[::3, ::3]
        images.append(TrainImage(i + 1, f"t{i}", im, mask))
    iou = {}
    for rule in ("pooled", "per-channel"):
        request = TrainRequest(
            tuple(images),
            ("bg", "cell"),
            NetworkConfig(3, 2, 2, 8, normalisation=rule),
            max_steps=150,
            config=replace(FAST, val_fraction=0.0),
            device="cpu",
        )
        result = train_round(request)
        iou[rule] = trained_iou(result, test)
    assert iou["per-channel"] > 0.9 and iou["pooled"] < 0.5, iou
