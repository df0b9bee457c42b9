"""Normalisation, channel handling, targets, crop sampling and the masked loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import FAST, TINY

from annotator.ml.data import (
    IGNORE,
    AugmentConfig,
    BatchPrefetcher,
    CropSampler,
    augment,
    block_holdout,
    choose_in_channels,
    fit_normalizer,
    prepare,
    to_channels,
    to_target,
)
from annotator.ml.loss import masked_cross_entropy, masked_dice, segmentation_loss


def test_sixteen_bit_images_use_robust_percentiles_not_the_dtype_range():
    rng = np.random.default_rng(0)
    image = rng.integers(1000, 4000, size=(64, 64)).astype(np.uint16)  # 12-bit data
    image[0, 0] = 65535  # one hot pixel must not squash everything else
    x = fit_normalizer(image, 1).apply(image)
    assert x.shape == (1, 64, 64) and x.dtype == np.float32
    inner = np.delete(x.ravel(), 0)
    assert inner.min() > -2.5 and inner.max() < 2.5
    assert inner.std() > 0.5  # the contrast is used, not left in a sliver of the range


def test_eight_bit_images_are_scaled_by_their_dtype():
    image = np.array([[0, 255], [128, 64]], np.uint8)
    x = fit_normalizer(image, 1).apply(image)
    assert x[0, 0, 0] == -2.0 and x[0, 0, 1] == 2.0


def test_float_images_with_nan_still_get_a_finite_range():
    image = np.linspace(0, 1, 100, dtype=np.float32).reshape(10, 10)
    image[0, 0] = np.nan
    norm = fit_normalizer(image, 1)
    assert np.isfinite(norm.low) and np.isfinite(norm.high) and norm.high > norm.low


def test_channel_choice_and_conversion_are_consistent():
    assert choose_in_channels([1, 1]) == 1
    assert choose_in_channels([1, 3]) == 3
    grey = np.full((4, 5), 10, np.uint8)
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 1] = 100
    rgba = np.dstack([rgb, np.full((4, 5), 255, np.uint8)])
    assert to_channels(grey, 3).shape == (3, 4, 5)
    assert (to_channels(grey, 3) == 10).all()
    assert np.allclose(to_channels(rgb, 1), 58.7)  # luminance of pure green 100
    assert np.array_equal(to_channels(rgba, 3), to_channels(rgb, 3))


def test_two_channels_train_as_magenta_and_green_never_as_grey_and_alpha():
    """A DAPI + GFP image was taken for grey + alpha: the model saw the DAPI alone."""
    assert choose_in_channels([1, 2]) == 3
    two = np.zeros((4, 5, 2), np.uint16)
    two[..., 0], two[..., 1] = 100, 3000
    x = to_channels(two, 3)
    assert x.shape == (3, 4, 5)
    assert (x[0] == 100).all() and (x[1] == 3000).all() and (x[2] == 100).all()
    assert np.allclose(to_channels(two, 1), (0.299 + 0.114) * 100 + 0.587 * 3000)  # as shown
    assert fit_normalizer(two, 3).high == 3000  # the second channel's range counts


def test_unlabelled_void_and_out_of_range_values_become_ignore():
    mask = np.array([[0, 1, 2, 254, 255]], np.uint8)
    assert to_target(mask, 2).tolist() == [[0, 1, IGNORE, IGNORE, IGNORE]]


def test_crops_are_class_balanced_around_labelled_pixels():
    rng = np.random.default_rng(0)
    target = np.full((200, 200), IGNORE, np.int16)
    target[:100, :] = 0  # a huge class 0 ...
    target[150:153, 20:30] = 1  # ... and one short stroke of class 1
    pixels = np.zeros((1, 200, 200), np.float32)
    sampler = CropSampler([prepare(1, pixels, target, 1.0, 2, rng)], 2, 32, rng, augment=None)
    with_class1 = 0
    for _ in range(200):
        x, t = sampler.sample()
        assert x.shape == (1, 32, 32) and t.shape == (32, 32)
        assert (t != IGNORE).any()  # every crop holds labelled pixels
        with_class1 += bool((t == 1).any())
    assert 70 < with_class1 < 130  # about half the crops, though it is 0.1% of the labels


def test_recent_images_are_sampled_more_often():
    rng = np.random.default_rng(1)
    t = np.zeros((40, 40), np.int16)
    old = prepare(1, np.zeros((1, 40, 40), np.float32), t, 1.0, 1, rng)
    new = prepare(2, np.ones((1, 40, 40), np.float32), t, 3.0, 1, rng)
    sampler = CropSampler([old, new], 1, 16, rng, augment=None)
    from_new = sum(float(sampler.sample()[0].mean()) == 1.0 for _ in range(400))
    assert 250 < from_new < 350  # 3:1 odds


def test_images_smaller_than_the_crop_are_padded_with_ignore():
    rng = np.random.default_rng(2)
    target = np.zeros((10, 12), np.int16)
    sampler = CropSampler(
        [prepare(1, np.ones((1, 10, 12), np.float32), target, 1.0, 1, rng)],
        1,
        32,
        rng,
        augment=None,
    )
    x, t = sampler.sample()
    assert x.shape == (1, 32, 32)
    assert (t == 0).sum() == 120 and (t == IGNORE).sum() == 32 * 32 - 120


def test_augmentation_moves_pixels_and_labels_together():
    rng = np.random.default_rng(3)
    t = np.arange(64 * 64, dtype=np.int16).reshape(64, 64) % 7
    x = t[None].astype(np.float32)
    cfg = AugmentConfig(elastic_p=0.0, intensity=0.0, noise=0.0)
    for _ in range(10):
        xa, ta = augment(x, t, cfg, rng)
        assert np.array_equal(xa[0].astype(np.int16), ta)
    cfg = AugmentConfig(elastic_p=1.0, intensity=0.0, noise=0.0)
    xa, ta = augment(x, t, cfg, rng)
    keep = ta != IGNORE
    # Linear interpolation of the image vs nearest labels: they agree where values are smooth.
    assert np.mean(np.abs(np.round(xa[0][keep]) - ta[keep]) < 1) > 0.5


def test_block_holdout_splits_labels_without_overlap():
    rng = np.random.default_rng(4)
    target = np.zeros((128, 128), np.int16)
    train, val = block_holdout(target, 0.25, rng, block=32)
    assert ((train != IGNORE) & (val != IGNORE)).sum() == 0
    assert ((train != IGNORE) | (val != IGNORE)).all()
    assert (val != IGNORE).sum() == 4 * 32 * 32  # 4 of the 16 blocks


def test_ignored_pixels_do_not_change_the_loss_or_get_gradients():
    torch.manual_seed(0)
    logits = torch.randn(1, 3, 8, 8, requires_grad=True)
    target = torch.full((1, 8, 8), IGNORE, dtype=torch.int16)
    target[0, :2, :2] = 1
    loss = masked_cross_entropy(logits, target)
    loss.backward()
    assert logits.grad[..., 2:, :].abs().sum() == 0
    assert logits.grad[..., :2, :2].abs().sum() > 0
    other = logits.detach().clone()
    other[..., 4:, 4:] += 100  # change only unlabelled pixels
    assert torch.allclose(masked_cross_entropy(other, target), loss)


def test_a_batch_without_labels_gives_zero_loss_not_nan():
    logits = torch.randn(2, 2, 4, 4, requires_grad=True)
    target = torch.full((2, 4, 4), IGNORE, dtype=torch.int16)
    for loss in (
        masked_cross_entropy(logits, target),
        masked_dice(logits, target),
        segmentation_loss(logits, target, dice_weight=1.0),
    ):
        assert loss.item() == 0.0
        loss.backward()


def test_dice_is_zero_for_a_perfect_prediction_on_labelled_pixels():
    target = torch.tensor([[[0, 1], [IGNORE, 1]]], dtype=torch.int16)
    logits = torch.tensor([[[[50.0, -50.0], [0.0, -50.0]], [[-50.0, 50.0], [0.0, 50.0]]]])
    assert masked_dice(logits, target).item() < 1e-3
    assert masked_dice(-logits, target).item() > 0.5


def test_no_data_values_of_float_images_reach_the_network_as_dark_pixels():
    from annotator.ml.data import fit_normalizer

    image = np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64)
    image[10:20, 10:20] = np.nan
    image[30, 30], image[31, 31] = np.inf, -np.inf
    x = fit_normalizer(image, 1).apply(image)
    assert np.isfinite(x).all()
    assert x[0, 15, 15] == x[0, 31, 31] == -2.0 and x[0, 30, 30] == 2.0  # the range's ends


def test_a_float_picture_with_no_data_trains_and_proposes(tmp_path):
    import tifffile

    from annotator.core.schema import LabelSchema
    from annotator.core.status import ImageStatus
    from annotator.services import proposals, training
    from annotator.storage.project import Project

    image = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    image[:8, :] = np.nan  # a strip of no data
    tifffile.imwrite(tmp_path / "x.tif", image)
    with Project.create(tmp_path / "p", LabelSchema.from_names(["a", "b", "c"])) as project:
        project.add_images([tmp_path / "x.tif"])
        rec = project.images()[0]
        mask = np.zeros((64, 64), np.uint8)
        mask[:, 32:] = 1
        project.save_mask(rec.id, mask, status=ImageStatus.DONE)
        outcome = training.train_project(
            project, steps=2, network=TINY, config=FAST, device="cpu", export_onnx=False
        )
        assert outcome.model is not None, outcome.result.message
        done = proposals.predict_images(project, device="cpu")
        assert np.isfinite(done[0].score)


def test_an_accepted_border_wider_than_the_image_leaves_every_accepted_label_out():
    from annotator.ml.data import IGNORE, to_target, void_accepted_border

    mask = np.zeros((20, 30), np.uint8)
    mask[:, 15:] = 1
    accepted = mask.copy()
    target = to_target(mask, 2)
    out = void_accepted_border(target, mask, accepted, 10**12)
    assert (out == IGNORE).all()


def test_the_cpu_allocators_words_count_as_out_of_memory():
    from annotator.ml.device import is_out_of_memory

    assert is_out_of_memory(
        RuntimeError("[enforce fail] DefaultCPUAllocator: can't allocate memory")
    )
    assert not is_out_of_memory(RuntimeError("shape mismatch"))


def _sampler(seed: int) -> CropSampler:
    rng = np.random.default_rng(seed)
    pixels = rng.random((1, 60, 60)).astype(np.float32)
    target = rng.integers(0, 2, (60, 60)).astype(np.int16)
    return CropSampler([prepare(1, pixels, target, 1.0, 2, rng)], 2, 16, rng, AugmentConfig())


def test_batches_drawn_ahead_on_a_thread_are_the_samplers_in_its_order():
    direct = _sampler(5)
    want = [direct.batch(4) for _ in range(6)]
    with BatchPrefetcher(_sampler(5), 4, depth=2) as ahead:
        got = [ahead.batch() for _ in range(6)]
    for (xa, ta), (xb, tb) in zip(want, got, strict=True):
        assert np.array_equal(xa, xb) and np.array_equal(ta, tb)


def test_leaving_the_prefetcher_stops_its_thread_and_its_errors_reach_the_loop():
    import threading

    ahead = BatchPrefetcher(_sampler(6), 4, depth=1)
    with ahead:
        ahead.batch()
        time_for_the_queue_to_fill = threading.Event()
        time_for_the_queue_to_fill.wait(0.2)  # the thread now waits on a full queue
    assert not ahead._thread.is_alive()
    assert not any(t.name == "annotator-batches" for t in threading.enumerate())

    broken = _sampler(7)

    def fail(n):
        raise MemoryError("no memory for the crops")

    broken.batch = fail  # type: ignore[method-assign]
    with BatchPrefetcher(broken, 4) as ahead:
        try:
            ahead.batch()
        except MemoryError as exc:
            assert "no memory" in str(exc)
        else:
            raise AssertionError("the sampler's error was swallowed")


def test_the_default_recipe_cuts_crops_at_the_pictures_own_scale(monkeypatch):
    """ADR 0023: zooming cost held-out accuracy on every data set measured."""
    from dataclasses import replace

    import annotator.ml.data as data
    from annotator.ml.train import TrainConfig

    def zoomed(*args):
        raise AssertionError("a crop was resized")

    monkeypatch.setattr(data, "_resize", zoomed)
    rng = np.random.default_rng(0)
    pixels = rng.random((1, 60, 60)).astype(np.float32)
    target = rng.integers(0, 2, (60, 60)).astype(np.int16)
    image = prepare(1, pixels, target, 1.0, 2, rng)
    default = TrainConfig().augment
    CropSampler([image], 2, 16, rng, default).batch(50)
    with pytest.raises(AssertionError, match="resized"):  # zoom on request still zooms
        CropSampler([image], 2, 16, rng, replace(default, scale=0.3)).batch(50)
