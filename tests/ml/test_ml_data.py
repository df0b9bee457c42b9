"""Normalisation, channel handling, targets, crop sampling and the masked loss."""

from __future__ import annotations

from dataclasses import replace

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
    assert fit_normalizer(two, 3, "pooled").high == 3000  # the second channel's range counts
    # each its own window (flat here: each one's low end), red and blue the first's
    assert fit_normalizer(two, 3).windows == ((100, 101), (3000, 3001))
    assert np.array_equal(fit_normalizer(two, 3).apply(two), np.full((3, 4, 5), -2, np.float32))


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


@pytest.mark.parametrize("src, size", [(47, 128), (128, 47), (100, 128), (128, 96), (50, 64)])
def test_zoomed_labels_stay_on_their_picture(src, size):
    """The crop zoom resizes picture and labels alike: a labelled square's centre stays on
    its picture's (nearest labels used to floor the source coordinate, 0.3-0.5 px off).
    Averaged over the square's positions, whose own rounding goes either way."""
    from annotator.ml.data import _resize

    yy = np.mgrid[0:size, 0:size][0]
    offsets = []
    for a in range(2, src // 2):
        x = np.zeros((1, src, src), np.float32)
        t = np.zeros((src, src), np.int16)
        x[0, a : a + src // 3, a : a + src // 3] = 1
        t[a : a + src // 3, a : a + src // 3] = 1
        xs, ts = _resize(x, t, size)
        assert ts.dtype == np.int16 and set(np.unique(ts)) == {0, 1}
        offsets.append(yy[ts == 1].mean() - (xs[0] * yy).sum() / xs[0].sum())
    assert abs(np.mean(offsets)) < 0.05, np.mean(offsets)


def test_a_grey_picture_in_a_colour_model_stays_grey_and_a_colour_one_is_jittered():
    rng = np.random.default_rng(5)
    t = np.zeros((32, 32), np.int16)
    grey = np.repeat(rng.normal(0, 1, (1, 32, 32)).astype(np.float32), 3, axis=0)
    colour = rng.normal(0, 1, (3, 32, 32)).astype(np.float32)
    cfg = AugmentConfig()  # the default: colour and saturation jitter, noise
    tinted = 0
    for seed in range(20):
        xg, _ = augment(grey, t, cfg, np.random.default_rng(seed))
        assert np.array_equal(xg[0], xg[1]) and np.array_equal(xg[0], xg[2]), seed
        xc, _ = augment(colour, t, replace(cfg, noise=0.0), np.random.default_rng(seed))
        # A channel's gain differs from the others': the colour picture is still jittered.
        ratios = [np.median(xc[c] / colour[c]) for c in range(3)]
        tinted += np.ptp(ratios) > 1e-3
    assert tinted == 20
    # The grey crop's random numbers are drawn all the same: the next ones match.
    a, b = np.random.default_rng(0), np.random.default_rng(0)
    augment(grey, t, cfg, a), augment(colour, t, cfg, b)
    assert a.random() == b.random()


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


def _labelled_picture(shape, dtype, seed=0):
    """A picture with labels near its edges and in its middle (class 0, 1 and void)."""
    rng = np.random.default_rng(seed)
    top = 60000 if dtype == np.uint16 else 255
    pixels = rng.integers(0, top, shape).astype(dtype)
    h, w = shape[:2]
    mask = np.full((h, w), 255, np.uint8)
    mask[3:9, w - 40 : w - 2] = 0  # by the top right corner
    mask[h // 2 : h // 2 + 5, 100:180] = 1
    mask[h // 2 + 20 : h // 2 + 60, 150:160] = 0
    mask[h // 2 + 70 : h // 2 + 75, 150:160] = 254  # void
    return pixels, mask


@pytest.mark.parametrize(
    ("shape", "dtype", "channels", "zoom"),
    [
        ((400, 300), np.uint16, 3, 0.0),  # grey in a project that has colour: the audit's case
        ((400, 300), np.uint8, 1, 0.3),
        ((300, 420, 3), np.uint16, 3, 0.3),
        ((300, 420, 3), np.uint8, 1, 0.0),  # colour in a grey model
        ((40, 500), np.uint8, 3, 0.3),  # thinner than a zoomed-out crop
    ],
)
def test_crops_normalised_one_by_one_are_those_of_the_normalised_picture(
    shape, dtype, channels, zoom
):
    """A round held every labelled picture whole, as float32 in 3 channels (5.7-6.4 GB
    for four big pictures); it now keeps the picture as read and normalises each crop,
    and the targets only around the labels. The batches are the same, to the bit."""

    from annotator.ml.data import Targets, crop_margin, labelled_targets

    pixels, mask = _labelled_picture(shape, dtype)
    norm = fit_normalizer(pixels, channels)
    cfg = replace(AugmentConfig(), scale=zoom)
    targets = labelled_targets(mask, 2, crop_margin(32, zoom))
    assert targets is not None and targets.values.size <= mask.size
    assert np.array_equal(targets.full(), to_target(mask, 2))
    old = prepare(1, norm.apply(pixels), to_target(mask, 2), 1.0, 2, np.random.default_rng(5))
    new = prepare(1, pixels, targets, 1.0, 2, np.random.default_rng(5), norm)
    assert new.pixels is pixels  # no copy
    a = CropSampler([old], 2, 32, np.random.default_rng(7), cfg, 0.5)
    b = CropSampler([new], 2, 32, np.random.default_rng(7), cfg, 0.5)
    for _ in range(20):
        (xa, ta), (xb, tb) = a.batch(4), b.batch(4)
        assert np.array_equal(xa, xb) and np.array_equal(ta, tb)
    assert old.statistics_sample().shape == new.statistics_sample().shape
    assert np.array_equal(old.statistics_sample(), new.statistics_sample())
    assert Targets.whole(mask).shape == mask.shape


def test_the_split_of_the_labelled_rectangle_is_the_whole_pictures():
    """The held-out blocks are those of the whole picture's 32 px grid, drawn alike."""
    from types import SimpleNamespace

    from annotator.ml.train import TrainConfig, _keep_every_class, _split

    masks = [_labelled_picture((500, 700), np.uint8, seed)[1] for seed in range(3)]
    masks[1][444:480, 333:390] = 1
    images = [
        SimpleNamespace(mask=m, accepted=None, image_id=i, pixels=None) for i, m in enumerate(masks)
    ]
    request = SimpleNamespace(
        images=images, class_names=("a", "b"), config=TrainConfig(val_fraction=0.3), keep=None
    )
    train, val = _split(request, np.random.default_rng(4))
    rng = np.random.default_rng(4)
    for i, m in enumerate(masks):
        want_train, want_val = _keep_every_class(*block_holdout(to_target(m, 2), 0.3, rng))
        assert np.array_equal(train[i][1].full(), want_train)
        assert np.array_equal(val[i][1].full(), want_val)
        assert train[i][1].y % 32 == 0 and train[i][1].x % 32 == 0


def test_preparing_a_round_copies_no_picture(tmp_path):
    """Preparing cost a float32 x 3 copy of each labelled picture (12 bytes a pixel:
    np.repeat holding the GIL for seconds, 2.3 GB for 54 MP of labels)."""
    import tracemalloc

    from annotator.ml.networks import build_network
    from annotator.ml.train import TrainImage, TrainRequest, _training_data

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 4096, (3000, 2000)).astype(np.uint16)  # 6 MP, 12 MB
    mask = np.full(pixels.shape, 255, np.uint8)
    mask[1000:1200, 500:700] = 0
    mask[1200:1300, 500:700] = 1
    net = TINY.__class__(3, 2, 2, 4)
    request = TrainRequest(
        (TrainImage(1, "a", pixels, mask),), ("a", "b"), net, max_steps=1, config=FAST
    )
    model = build_network(net)
    tracemalloc.start()
    try:
        prepared, _, sampler, _ = _training_data(
            request, net, model, np.random.default_rng(0), np.random.default_rng(1)
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A float copy in 3 channels would be 72 MB; the labelled rectangle's targets
    # (int16, with the crops' margin) and its split are well under 1 MB each.
    assert peak < 8 * 2**20, peak / 2**20
    assert prepared[0].pixels is pixels
    assert prepared[0].target.size < 0.05 * pixels.size
    x, t = sampler.batch(2)
    assert x.shape == (2, 3, 64, 64) and x.dtype == np.float32 and (t != IGNORE).any()


def test_the_pixels_of_a_class_are_indexed_and_drawn_as_before_band_by_band(monkeypatch):
    """A class covering a big picture had every index made (8 bytes a pixel: 0.4 GB for
    a labelled 48 MP picture) before 200,000 of them were drawn; the draw is the same."""
    import annotator.ml.data as data

    rng = np.random.default_rng(0)
    target = rng.integers(-1, 3, (301, 257)).astype(np.int16)
    for limit in (10**6, 5000):  # all of them, and a draw
        monkeypatch.setattr(data, "_MAX_COORDS_PER_CLASS", limit)
        a, b = np.random.default_rng(1), np.random.default_rng(1)
        for c in range(3):
            want = np.flatnonzero(target.ravel() == c)
            total = want.size
            if want.size > limit:
                want = a.choice(want, limit, replace=False)
            got, counted = data._class_coords(target, c, b)
            assert np.array_equal(got, want) and counted == total
            assert got.dtype == np.int32  # (4 bytes a centre, not 8)
    monkeypatch.setattr(data, "_MAX_COORDS_PER_CLASS", 5000)
    # A wide picture is read in bands of 20 rows (4,000,000 values): three here.
    wide = rng.integers(0, 2, (50, 200_000)).astype(np.int16)
    a, b = np.random.default_rng(2), np.random.default_rng(2)
    want = a.choice(np.flatnonzero(wide.ravel() == 1), 5000, replace=False)
    assert np.array_equal(data._class_coords(wide, 1, b)[0], want)


def test_targets_held_out_blocks_and_class_counts_take_no_copy_of_the_labels():
    """A fully labelled picture's targets, held-out blocks and class counts made the
    coordinates of every labelled pixel (16 bytes each) and its labels as int64 (8)."""
    import tracemalloc

    def peak_of(work):
        tracemalloc.start()
        try:
            out = work()
            return out, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    rng = np.random.default_rng(0)
    mask = rng.integers(0, 3, (2000, 3000)).astype(np.uint8)  # 6 MP, every pixel labelled
    mask[:10] = 255
    (target, (train, val)), peak = peak_of(
        lambda: (t := to_target(mask, 2), block_holdout(t, 0.2, np.random.default_rng(0)))
    )
    assert np.array_equal(target, np.where(mask < 2, mask.astype(np.int16), IGNORE))
    assert ((train == IGNORE) | (val == IGNORE)).all() and (val != IGNORE).any()
    # The three int16 targets (12 MB each) and a mask or two; the labelled pixels'
    # coordinates would be 96 MB.
    assert peak < 48 * 2**20, peak / 2**20
    from annotator.ml.data import class_counts

    counts, peak = peak_of(lambda: class_counts(train, 2))
    assert counts.tolist() == [int((train == c).sum()) for c in range(2)]
    assert peak < 8 * 2**20, peak / 2**20  # one mask of 6 MB; int64 labels would be 48 MB


def test_channel_statistics_are_those_of_every_sample_joined_and_hold_one_at_a_time():
    """A round from scratch took the input statistics of every picture's sample joined
    in one float64 array: 48 bytes per sampled value at the peak (3 GB for 4,000 small
    RGB pictures, before the first step)."""
    import tracemalloc

    from annotator.ml.data import sampled_statistics

    rng = np.random.default_rng(3)
    sizes = rng.integers(1, 40, (30, 2))
    samples = [rng.random((3, h, w), dtype=np.float32) * (i + 1) for i, (h, w) in enumerate(sizes)]
    joined = np.concatenate([x.reshape(3, -1) for x in samples], axis=1).astype(np.float64)
    mean, std = sampled_statistics(iter(samples))
    assert np.allclose(mean, joined.mean(axis=1), rtol=1e-12)
    assert np.allclose(std, joined.std(axis=1), rtol=1e-12)

    def many():  # 600 pictures' samples, 59 MB as float32
        for _ in range(600):
            yield np.ones((3, 64, 128), np.float32)

    tracemalloc.start()
    try:
        mean, std = sampled_statistics(many())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert mean == [1.0, 1.0, 1.0] and std == [1e-3] * 3
    assert peak < 3 * 2**20, peak
