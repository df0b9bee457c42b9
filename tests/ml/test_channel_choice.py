"""The channel choice in models (docs/adr/0030): a new model takes the project's choice
and records it; a version keeps its own; networks without one take the first three."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import FAST
from modelhelpers import choice_round, trained_iou

from annotator.core.card import ModelCard
from annotator.core.errors import ModelError
from annotator.ml.checkpoint import checkpoint_bytes, load_checkpoint
from annotator.ml.networks import NetworkConfig, build_network, load_weights
from annotator.ml.predict import Predictor
from annotator.ml.train import TrainImage, TrainRequest, train_round
from annotator.services.training import make_card
from annotator.storage.models import WEIGHTS_NAME, write_version_folder

#: The keys of a card's ``architecture`` before the choice existed.
KEYS_BEFORE = {"in_channels", "n_classes", "depth", "width", "growth", "arch", "normalisation"}


def nir_picture(seed: int, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """8-bit RGBN: discs brighter only in band 4 (NIR); bands 1-3 are the same noise on
    and off them."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    truth = np.zeros((size, size), np.uint8)
    for _ in range(3):
        cy, cx = rng.integers(12, size - 12, 2)
        truth[(yy - cy) ** 2 + (xx - cx) ** 2 < int(rng.integers(7, 11)) ** 2] = 1
    rgb = rng.integers(60, 200, (size, size, 3))
    nir = 80 + rng.normal(0, 10, (size, size)) + 90 * truth
    return np.clip(np.dstack([rgb, nir]), 0, 255).astype(np.uint8), truth


def test_no_choice_leaves_the_card_as_before_and_a_choice_round_trips():
    plain = NetworkConfig(3, 2, depth=2, width=4)
    assert set(plain.to_dict()) == KEYS_BEFORE  # the card of before, to the byte
    assert plain.channel_choice == ()
    chosen = NetworkConfig(1, 2, depth=2, width=4, channel_choice=[4])
    assert chosen.to_dict()["channel_choice"] == [4]
    back = NetworkConfig.from_dict(chosen.to_dict())
    assert back == chosen and back.channel_choice == (4,)
    with pytest.raises(ModelError, match="channel choice"):
        NetworkConfig(3, 2, channel_choice=(0, 1, 2, 3))


@pytest.mark.slow
def test_a_model_from_scratch_with_choice_4_learns_a_class_seen_only_in_band_4():
    """150 steps of a tiny network at 64x64 (about 3 CPU s a run). Measured: disc IoU
    on unseen pictures 0.22 with the first three bands, 1.00 with band 4 chosen."""
    pictures = [nir_picture(i) for i in range(3)]
    tests = [nir_picture(s) for s in (10, 11)]
    iou = {}
    for choice, in_channels in (((), 3), ((3,), 1)):
        request, result = choice_round(
            pictures, choice, in_channels, replace(FAST, val_fraction=0.0)
        )
        assert result.network.channel_choice == choice
        card = ModelCard.from_json(make_card(request, result, 1).to_json())
        assert NetworkConfig.from_dict(dict(card.architecture)).channel_choice == choice
        iou[choice] = trained_iou(result, tests)
    assert iou[(3,)] > 0.85 and iou[()] < 0.5, iou


def save_version(folder, config: NetworkConfig, seed: int = 0):
    torch.manual_seed(seed)
    model = build_network(config)
    card = ModelCard(version=1, architecture=config.to_dict(), classes=("bg", "fg"))
    write_version_folder(folder, checkpoint_bytes(model.state_dict(), card), card)
    return folder / WEIGHTS_NAME, model


def test_a_version_keeps_its_choice_for_proposals_and_training_on(tmp_path):
    image, truth = nir_picture(0)
    five = np.dstack([image, image[..., :1] // 2])  # a fifth band too
    config = NetworkConfig(1, 2, depth=2, width=4, channel_choice=(3,))
    weights, model = save_version(tmp_path / "v1", config)
    assert load_checkpoint(weights).network.channel_choice == (3,)
    predictor = Predictor.from_checkpoint(weights, device="cpu")
    got = predictor.predict(five, keep_probabilities=True).probabilities
    # the same weights with no choice, given band 4 alone: the same proposal
    plain = load_weights(build_network(replace(config, channel_choice=())), model.state_dict())
    want = Predictor.from_model(plain, device="cpu").predict(
        np.ascontiguousarray(five[..., 3]), keep_probabilities=True
    )
    assert np.array_equal(got, want.probabilities)
    # training on from it, whatever the project shows now (a request of no choice)
    mask = np.full(truth.shape, 255, np.uint8)
    mask[::4, ::4] = truth[::4, ::4]
    request = TrainRequest(
        (TrainImage(1, "a", five, mask),),
        ("bg", "fg"),
        NetworkConfig(3, 2, depth=2, width=4),
        init_checkpoint=weights,
        parent_version=1,
        max_steps=2,
        config=replace(FAST, val_fraction=0.0, batch_size=2, crop=32),
        device="cpu",
    )
    result = train_round(request)
    assert result.network.channel_choice == (3,) and result.network.in_channels == 1


def test_a_version_without_a_choice_predicts_the_first_three_as_before(tmp_path):
    image, _ = nir_picture(1)
    config = NetworkConfig(3, 2, depth=2, width=4)
    weights, _ = save_version(tmp_path / "v1", config)
    predictor = Predictor.from_checkpoint(weights, device="cpu")
    got = predictor.predict(image, keep_probabilities=True).probabilities
    rgb = np.ascontiguousarray(image[..., :3])
    assert np.array_equal(got, predictor.predict(rgb, keep_probabilities=True).probabilities)
