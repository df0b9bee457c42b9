"""Nodata in the model (ADR 0029): a pixel with no value enters as a defined constant,
gets no class in a proposal, leaves the score alone and never trains."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch

from annotator.core.nodata import GDAL_NODATA_TAG
from annotator.core.proposal import NO_CLASS, image_score
from annotator.ml.data import IGNORE, fit_normalizer, labelled_targets
from annotator.ml.networks import NetworkConfig
from annotator.ml.predict import Predictor
from annotator.ml.train import TrainConfig, TrainImage, TrainRequest, _split
from annotator.ml.unet import UNet
from annotator.storage.images import read_image


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = UNet(NetworkConfig(3, 3, depth=2, width=8, arch="unet"))
    m.train()
    with torch.no_grad():
        for _ in range(3):
            m(torch.randn(2, 3, 64, 64))
        m.head.weight.mul_(60.0)
    return m.eval()


def _geotiff(tmp_path, name, array, nodata):
    path = tmp_path / name
    tags = [(GDAL_NODATA_TAG, "s", 0, str(nodata), True)]
    tifffile.imwrite(path, array, photometric="minisblack", extratags=tags)
    return path


def _reflectance(h=64, w=64, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.02, 0.6, (h, w, 4)).astype(np.float32)
    a[:20] = -9999.0
    return a


def test_the_model_input_of_valid_pixels_spans_the_range_and_nodata_is_the_low_end(tmp_path):
    image = read_image(_geotiff(tmp_path, "refl.tif", _reflectance(), -9999))
    x = fit_normalizer(image, 3).apply(image)
    assert np.isfinite(x).all()
    assert (x[:, :20] == -2.0).all()  # a defined value: the low end, as shown black
    valid = x[:, 20:]
    # Old code: the window (-9999, 0.6) put every valid pixel at about +2.0.
    assert valid.min() < -1.5 and valid.max() > 1.5 and abs(float(valid.mean())) < 0.5


def test_uint16_nodata_zero_does_not_stretch_the_model_window(tmp_path):
    rng = np.random.default_rng(1)
    a = rng.integers(479, 7000, (48, 40, 4)).astype(np.uint16)
    a[:12] = 0
    image = read_image(_geotiff(tmp_path, "rgbn.tif", a, 0))
    norm = fit_normalizer(image, 3)
    assert all(low >= 479 for low, _ in norm.windows)  # old code: 0


def test_a_proposal_gives_nodata_no_class_and_its_score_passes_over_it(tmp_path, model):
    image = read_image(_geotiff(tmp_path, "refl.tif", _reflectance(), -9999))
    proposal = Predictor.from_model(model, device="cpu").predict(image)
    assert (proposal.mask[:20] == NO_CLASS).all()  # old code: a class each
    assert (proposal.mask[20:] < 3).all()
    assert (proposal.uncertainty[:20] == 0).all()
    assert proposal.score == pytest.approx(image_score(proposal.uncertainty[20:]))


def test_an_image_without_nodata_is_proposed_as_before(model):
    image = np.random.default_rng(2).integers(0, 256, (64, 64, 3)).astype(np.uint8)
    proposal = Predictor.from_model(model, device="cpu").predict(image)
    assert (proposal.mask < 3).all()
    assert proposal.score == image_score(proposal.uncertainty)


def test_labels_on_nodata_never_train(tmp_path):
    image = read_image(_geotiff(tmp_path, "refl.tif", _reflectance(), -9999))
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[:, 32:] = 1  # every pixel labelled, nodata rows too
    targets = labelled_targets(mask, 2, 0, pixels=image).full()
    assert (targets[:20] == IGNORE).all()
    assert (targets[20:] != IGNORE).all()
    # The round's own split (train and validation) cuts its targets so.
    request = TrainRequest(
        images=(TrainImage(1, "refl.tif", image, mask),),
        class_names=("water", "field"),
        network=NetworkConfig(3, 2, depth=2, width=8, arch="unet"),
        max_steps=1,
        config=TrainConfig(val_fraction=0.2),
    )
    train, val = _split(request, np.random.default_rng(0))
    for _, t in train + val:
        assert (t.full()[:20] == IGNORE).all()
    assert sum(int((t.full() != IGNORE).sum()) for _, t in train + val) == 44 * 64


def test_the_pixels_without_a_value_are_those_of_the_chosen_channels():
    """Under a channel choice (ADR 0030: 3,4,5) training leaves out the labels where the chosen
    channels have no value, and trains where only the others have none: the pixels the
    proposals give no class, as the network sees them."""
    raw = np.random.default_rng(0).random((64, 64, 5)).astype(np.float32)
    raw[:8, :8, 2:] = np.nan  # the chosen bands 3-5 empty; bands 1-2 have values
    raw[8:16, :8, :2] = np.nan  # bands 1-2 empty; the chosen ones have values
    mask = np.zeros((64, 64), np.uint8)
    mask[:, 32:] = 1
    request = TrainRequest(
        images=(TrainImage(1, "bands.tif", raw, mask),),
        class_names=("water", "field"),
        network=NetworkConfig(3, 2, depth=2, width=8, arch="unet"),
        max_steps=1,
        config=TrainConfig(val_fraction=0.0),
    )
    [(_, t)] = _split(request, np.random.default_rng(0), choice=(2, 3, 4))[0]
    full = t.full()
    assert (full[:8, :8] == IGNORE).all()  # no value in what the network sees
    assert (full[8:16, :8] == 0).all()  # values there: trained


def test_an_8bit_picture_with_nodata_enters_the_model_as_8bit_pictures_do(tmp_path):
    """An 8-bit orthophoto with nodata 0 (read as float): the model's window is 0..255
    as for every 8-bit picture (old code: each channel's percentiles), the valid pixels
    enter as without the tag, the collar as the low end."""
    rng = np.random.default_rng(5)
    a = rng.integers(40, 220, (40, 48, 3)).astype(np.uint8)
    a[:8] = 0
    image = read_image(_geotiff(tmp_path, "ortho.tif", a, 0))
    normalizer = fit_normalizer(image, 3)
    assert (normalizer.low, normalizer.high, normalizer.windows) == (0.0, 255.0, ())
    x = normalizer.apply(image)
    assert (x[:, :8] == -2.0).all()
    np.testing.assert_array_equal(x[:, 8:], fit_normalizer(a, 3).apply(a)[:, 8:])
