"""Tiled proposals: agreement with untiled inference, any size, bounded memory, backends."""

from __future__ import annotations

import threading
import tracemalloc

import numpy as np
import pytest
import torch

from annotator.core.errors import Cancelled
from annotator.core.proposal import Proposal, image_score, normalised_entropy
from annotator.ml.data import fit_normalizer
from annotator.ml.networks import NetworkConfig
from annotator.ml.predict import (
    Predictor,
    TorchRunner,
    predict_tiled,
    predict_where,
    tile_starts,
    tiles_where,
)
from annotator.ml.unet import UNet


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = UNet(NetworkConfig(1, 3, depth=2, width=8, arch="unet"))
    # A few train-mode passes give BatchNorm non-trivial statistics.
    m.train()
    with torch.no_grad():
        for _ in range(3):
            m(torch.randn(2, 1, 64, 64))
        # Fresh classifiers start near zero (near-uniform probabilities); give them weight
        # so the comparisons below are between decided pixels.
        m.head.weight.mul_(60.0)
    return m.eval()


def _image(h, w, seed=0, channels=None):
    rng = np.random.default_rng(seed)
    shape = (h, w) if channels is None else (h, w, channels)
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


def _untiled_probs(model, image):
    x = torch.from_numpy(fit_normalizer(image, 1).apply(image))[None]
    with torch.no_grad():
        return model(x).softmax(1)[0].numpy()


def test_tiled_prediction_equals_untiled_on_an_image_that_fits_one_tile(model):
    image = _image(96, 80)
    proposal = Predictor.from_model(model, device="cpu").predict(image, tile=128)
    expected = _untiled_probs(model, image)
    np.testing.assert_allclose(proposal.probabilities.astype(np.float32), expected, atol=2e-3)
    assert np.array_equal(proposal.mask, expected.argmax(0))


def test_many_overlapping_tiles_agree_with_one_big_tile(model):
    image = _image(200, 150, seed=1)
    pred = Predictor.from_model(model, device="cpu")
    one = pred.predict(image, tile=256)
    tiled = pred.predict(image, tile=64, overlap=24)
    assert one.shape == tiled.shape == (200, 150)
    # Tile borders see less context, so allow small differences, but the masks agree.
    diff = np.abs(one.probabilities.astype(np.float32) - tiled.probabilities.astype(np.float32))
    assert np.median(diff) < 0.02
    p = np.sort(one.probabilities.astype(np.float32), axis=0)
    decided = (p[-1] - p[-2]) > 0.1  # an untrained model has many near-ties
    assert decided.mean() > 0.3
    assert (one.mask == tiled.mask)[decided].mean() > 0.98


class Constant:
    """A runner that answers the same class probabilities everywhere."""

    def __init__(self, *probabilities: float) -> None:
        self.probabilities = np.array(probabilities, np.float32)

    def __call__(self, batch):
        shape = (batch.shape[0], len(self.probabilities), *batch.shape[2:])
        return np.broadcast_to(self.probabilities[None, :, None, None], shape).copy()


def test_blending_is_seamless_for_a_constant_model():
    image = _image(130, 170)
    out = predict_tiled(
        Constant(0.3, 0.7),
        image,
        fit_normalizer(image, 1),
        2,
        4,
        tile=48,
        overlap=16,
        keep_probabilities=True,
    )
    np.testing.assert_allclose(out.probabilities.astype(np.float32)[1], 0.7, atol=1e-3)
    assert (out.mask == 1).all()


def test_every_pixel_is_covered_exactly_by_the_tile_grid():
    for length, tile, overlap in [
        (100, 32, 8),
        (32, 32, 8),
        (33, 32, 8),
        (1000, 256, 64),
        (5, 64, 8),
    ]:
        starts = tile_starts(length, tile, overlap)
        covered = np.zeros(length, int)
        for s in starts:
            covered[s : s + tile] += 1
        assert (covered >= 1).all() and starts[-1] + min(tile, length) == length


@pytest.mark.parametrize("shape", [(1, 1), (7, 300), (65, 33), (50, 40, 3), (31, 29, 4)])
def test_any_size_and_channel_count_gives_a_full_size_proposal(model, shape):
    image = _image(*shape[:2], channels=shape[2] if len(shape) == 3 else None)
    proposal = Predictor.from_model(model, device="cpu").predict(image, tile=64, overlap=16)
    assert proposal.mask.shape == shape[:2] and proposal.mask.dtype == np.uint8
    assert proposal.uncertainty.shape == shape[:2]
    assert proposal.uncertainty.min() >= 0.0 and proposal.uncertainty.max() <= 1.0
    assert proposal.mask.max() < 3


def test_sixteen_bit_images_are_predicted_like_their_eight_bit_version(model):
    image8 = _image(64, 64, seed=3)
    image16 = image8.astype(np.uint16) * 16 + 2000  # 12-bit data in a 16-bit file
    pred = Predictor.from_model(model, device="cpu")
    a, b = pred.predict(image8), pred.predict(image16)
    assert (a.mask == b.mask).mean() > 0.9


def test_uncertainty_is_the_normalised_entropy_and_the_score_ranks_it(model):
    proposal = Predictor.from_model(model, device="cpu").predict(_image(64, 64))
    p = proposal.probabilities.astype(np.float32)
    np.testing.assert_allclose(proposal.uncertainty, normalised_entropy(p), atol=2e-3)
    assert normalised_entropy(np.array([[1.0], [0.0]]))[0] == pytest.approx(0, abs=1e-6)
    assert normalised_entropy(np.array([[0.5], [0.5]]))[0] == pytest.approx(1, abs=1e-6)
    sure, unsure = np.zeros((50, 50), np.float32), np.zeros((50, 50), np.float32)
    unsure[:10] = 0.9
    assert image_score(unsure) > image_score(sure) == 0.0


def test_large_images_keep_memory_to_the_outputs_plus_one_band(model):
    h, w = 3000, 600
    image = _image(h, w)
    tracemalloc.start()
    try:
        proposal = Predictor.from_model(model, device="cpu").predict(image, tile=128, overlap=32)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert proposal.probabilities is not None and proposal.probabilities.dtype == np.float16
    outputs = proposal.mask.nbytes + proposal.uncertainty.nbytes + proposal.probabilities.nbytes
    # Full-image float32 accumulators would add 3 * 4 + 4 = 16 bytes per pixel (~27 MB);
    # one band of 128 rows costs ~1 MB (and a few temporaries of its size).
    assert peak < outputs + 10 * 2**20, (peak / 2**20, outputs / 2**20)
    assert proposal.mask.shape == (h, w)
    without = Predictor.from_model(model, device="cpu").predict(
        image[:600], tile=128, overlap=32, keep_probabilities=False
    )
    assert without.probabilities is None and without.mask.shape == (600, w)


def test_prediction_can_be_cancelled_between_tiles(model):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        Predictor.from_model(model, device="cpu").predict(_image(200, 200), tile=64, cancel=cancel)


def test_onnx_and_torch_backends_give_the_same_proposal(tmp_path, model):
    from annotator.core.card import ModelCard
    from annotator.ml.checkpoint import checkpoint_bytes, onnx_bytes
    from annotator.storage.models import write_version_folder

    card = ModelCard(version=1, architecture=model.config.to_dict(), classes=("a", "b", "c"))
    files = write_version_folder(
        tmp_path / "v0001", checkpoint_bytes(model.state_dict(), card), card, onnx_bytes(model)
    )
    names = ["a", "b", "c"]
    fast = Predictor.from_checkpoint(files.weights, names, onnx=files.onnx, device="cpu")
    slow = Predictor.from_checkpoint(
        files.weights, names, onnx=files.onnx, device="cpu", backend="torch"
    )
    assert fast.backend == "onnxruntime" and slow.backend == "torch-cpu"
    image = _image(150, 130, seed=5)
    a = fast.predict(image, tile=64, overlap=16)
    b = slow.predict(image, tile=64, overlap=16)
    assert a.model_version == b.model_version == 1
    np.testing.assert_allclose(a.uncertainty, b.uncertainty, atol=1e-3)
    assert (a.mask == b.mask).mean() > 0.999


def test_without_an_onnx_file_the_torch_backend_is_used(tmp_path, model):
    from annotator.core.card import ModelCard
    from annotator.ml.checkpoint import checkpoint_bytes
    from annotator.storage.models import write_version_folder

    card = ModelCard(version=1, architecture=model.config.to_dict(), classes=("a", "b", "c"))
    files = write_version_folder(tmp_path / "v1", checkpoint_bytes(model.state_dict(), card), card)
    assert files.onnx is None
    predictor = Predictor.from_checkpoint(files.weights, onnx=files.onnx, device="cpu")
    assert predictor.backend == "torch-cpu"


def test_proposal_rejects_inconsistent_arrays():
    mask = np.zeros((4, 4), np.uint8)
    unc = np.zeros((4, 4), np.float32)
    Proposal(None, mask, unc, 0.0, 1)
    with pytest.raises(ValueError):
        Proposal(None, mask.astype(np.int32), unc, 0.0, 1)
    with pytest.raises(ValueError):
        Proposal(np.zeros((2, 4, 5), np.float32), mask, unc, 0.0, 1)
    with pytest.raises(ValueError):
        Proposal(None, mask, unc[:2], 0.0, 1)


def test_the_torch_runner_returns_probabilities(model):
    x = np.random.default_rng(0).normal(size=(2, 1, 32, 32)).astype(np.float32)
    p = TorchRunner(model, torch.device("cpu"))(x)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)


def test_class_weights_are_divided_out_of_every_tile():
    """A model trained with class 1 weighted twice answers 0.6 for it where the labels
    say 3:4 against it; the proposal divides the weight out: 0.6 / 2 < 0.4 / 1."""

    image = _image(130, 170)
    args = (Constant(0.4, 0.6), image, fit_normalizer(image, 1), 2, 4)
    for tile in (48, 256):  # blended bands, and one tile
        raw = predict_tiled(*args, tile=tile, overlap=16, keep_probabilities=True)
        fair = predict_tiled(
            *args,
            tile=tile,
            overlap=16,
            keep_probabilities=True,
            class_weights=np.array([1.0, 2.0], np.float32),
        )
        assert (raw.mask == 1).all() and (fair.mask == 0).all()
        np.testing.assert_allclose(fair.probabilities.astype(np.float32)[0], 0.4 / 0.7, atol=1e-3)
        np.testing.assert_allclose(fair.probabilities.astype(np.float32).sum(0), 1.0, atol=2e-3)


def test_a_checkpoint_proposes_with_its_cards_class_weights_on_both_backends(tmp_path, model):
    from annotator.core.card import CardTraining, ModelCard
    from annotator.ml.checkpoint import checkpoint_bytes, onnx_bytes
    from annotator.storage.models import write_version_folder

    weights = (0.5, 1.0, 4.0)
    card = ModelCard(
        version=1,
        architecture=model.config.to_dict(),
        classes=("a", "b", "c"),
        training=CardTraining(class_weights=weights),
    )
    files = write_version_folder(
        tmp_path / "v0001", checkpoint_bytes(model.state_dict(), card), card, onnx_bytes(model)
    )
    image = _image(96, 80, seed=2)
    expected = _untiled_probs(model, image) / np.array(weights, np.float32)[:, None, None]
    expected /= expected.sum(0)
    for backend in ("onnx", "torch"):
        pred = Predictor.from_checkpoint(
            files.weights, ["a", "b", "c"], onnx=files.onnx, device="cpu", backend=backend
        )
        assert pred.class_weights.tolist() == list(weights)
        got = pred.predict(image, tile=128)
        np.testing.assert_allclose(got.probabilities.astype(np.float32), expected, atol=3e-3)
    # A project that has gained a class since: the model proposes the classes it knows,
    # with their weights.
    pred = Predictor.from_checkpoint(files.weights, ["a", "b", "c", "d"], device="cpu")
    assert pred.class_weights.tolist() == list(weights)


def test_a_damaged_onnx_export_falls_back_to_the_weights(tmp_path, model):
    """The ONNX file is only a faster copy of the weights: a damaged one must not stop
    proposals (unless ONNX was asked for by name)."""
    from annotator.core.card import ModelCard
    from annotator.core.errors import ModelError
    from annotator.ml.checkpoint import checkpoint_bytes, onnx_bytes
    from annotator.storage.models import write_version_folder

    card = ModelCard(version=1, architecture=model.config.to_dict(), classes=("a", "b", "c"))
    files = write_version_folder(
        tmp_path / "v0001", checkpoint_bytes(model.state_dict(), card), card, onnx_bytes(model)
    )
    files.onnx.write_bytes(files.onnx.read_bytes()[:100])  # truncated
    predictor = Predictor.from_checkpoint(files.weights, onnx=files.onnx, device="cpu")
    assert predictor.backend == "torch-cpu"
    assert predictor.predict(_image(40, 40), tile=64).mask.shape == (40, 40)
    with pytest.raises(ModelError, match="onnxruntime cannot load"):
        Predictor.from_checkpoint(files.weights, onnx=files.onnx, device="cpu", backend="onnx")


class Counting:
    """A runner that counts the tiles it is given."""

    def __init__(self, runner) -> None:
        self.runner, self.calls = runner, 0

    def __call__(self, batch):
        self.calls += 1
        return self.runner(batch)


@pytest.mark.parametrize("channels", [None, 3])
def test_predicting_only_where_labels_are_gives_the_whole_pictures_classes_there(channels):
    """A validation predicts only the tiles over its held-out labels: at each of those
    pixels the class is the whole picture's proposal's, bit for bit (the same tiles
    blended in the same order), class weights divided out as there."""
    torch.manual_seed(1)
    net = UNet(NetworkConfig(3 if channels else 1, 3, depth=2, width=8, arch="unet"))
    net.train()
    with torch.no_grad():
        net(torch.randn(2, 3 if channels else 1, 64, 64))
        net.head.weight.mul_(3.0)  # near ties as well as decided pixels
    runner = Counting(TorchRunner(net.eval(), torch.device("cpu")))
    image = _image(230, 310, seed=4, channels=channels)
    norm = fit_normalizer(image, 3 if channels else 1)
    weights = np.array([0.5, 1.0, 2.0], np.float32)
    multiple = net.config.multiple
    whole = predict_tiled(
        runner,
        image,
        norm,
        3,
        multiple,
        tile=64,
        overlap=16,
        keep_probabilities=False,
        class_weights=weights,
    ).mask
    every_tile, runner.calls = runner.calls, 0
    rng = np.random.default_rng(0)
    wanted = rng.random((100, 120)) < 0.01  # a few scattered labels ...
    wanted[10:20, 30:40] = True  # ... and a stroke
    origin = (37, 150)  # the rectangle of the labels in the picture
    got = predict_where(
        runner,
        image,
        norm,
        3,
        multiple,
        wanted,
        origin,
        tile=64,
        overlap=16,
        class_weights=weights,
    )
    there = whole[37:137, 150:270]
    assert np.array_equal(got[wanted], there[wanted])
    assert (got[~wanted] == 255).all()
    assert runner.calls == len(
        tiles_where(image.shape, multiple, wanted, origin, tile=64, overlap=16)
    )
    assert 0 < runner.calls < every_tile / 2, (runner.calls, every_tile)
    # One tile only (the picture fits in it): the same classes too.
    small = _image(50, 60, seed=6, channels=channels)
    one = predict_tiled(
        runner, small, fit_normalizer(small, norm.in_channels), 3, multiple, class_weights=weights
    ).mask
    mask = np.zeros(small.shape[:2], bool)
    mask[::7, ::5] = True
    got = predict_where(
        runner,
        small,
        fit_normalizer(small, norm.in_channels),
        3,
        multiple,
        mask,
        class_weights=weights,
    )
    assert np.array_equal(got[mask], one[mask])


def test_predicting_where_nothing_is_wanted_runs_no_tile_and_a_cancel_stops_it(model):
    runner = Counting(TorchRunner(model, torch.device("cpu")))
    image = _image(200, 200)
    norm = fit_normalizer(image, 1)
    nothing = np.zeros((50, 50), bool)
    assert (predict_where(runner, image, norm, 3, 4, nothing, (10, 10), tile=64) == 255).all()
    assert runner.calls == 0
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        predict_where(runner, image, norm, 3, 4, ~nothing, (10, 10), tile=64, cancel=cancel)
    assert runner.calls == 0


def test_predicting_where_every_pixel_is_wanted_is_the_whole_proposal_bit_for_bit(model):
    """predict_where and predict_tiled blend their tiles in one loop: wanting every pixel
    runs every tile, in the same order, and gives the proposal's mask exactly."""
    weights = np.array([0.5, 1.0, 2.0], np.float32)
    for shape, tile, overlap in [((230, 310), 64, 16), ((130, 97), 48, 0), ((50, 60), 64, 8)]:
        image = _image(*shape, seed=7)
        norm = fit_normalizer(image, 1)
        runner = Counting(TorchRunner(model, torch.device("cpu")))
        ticks: list[tuple[int, int, str]] = []
        whole = predict_tiled(
            runner,
            image,
            norm,
            3,
            4,
            tile=tile,
            overlap=overlap,
            keep_probabilities=False,
            class_weights=weights,
            progress=lambda *a, seen=ticks: seen.append(a),
        )
        every_tile, runner.calls = runner.calls, 0
        where_ticks: list[tuple[int, int, str]] = []
        got = predict_where(
            runner,
            image,
            norm,
            3,
            4,
            np.ones(shape, bool),
            tile=tile,
            overlap=overlap,
            class_weights=weights,
            progress=lambda *a, seen=where_ticks: seen.append(a),
        )
        assert np.array_equal(got, whole.mask), shape
        assert runner.calls == every_tile and where_ticks == ticks
        assert ticks[-1][:2] == (every_tile, every_tile)


@pytest.mark.parametrize("where", [False, True])
@pytest.mark.parametrize("after", [0, 3])
def test_a_cancel_stops_a_prediction_before_its_next_tile(model, where, after):
    """Checked before every tile, the first (and only one: a picture in one tile) too."""
    shape = (200, 200) if after else (40, 50)
    image = _image(*shape)
    norm = fit_normalizer(image, 1)
    cancel = threading.Event()

    class Cancelling(Counting):
        def __call__(self, batch):
            out = super().__call__(batch)
            if self.calls == after:
                cancel.set()
            return out

    runner = Cancelling(TorchRunner(model, torch.device("cpu")))
    if after == 0:
        cancel.set()
    with pytest.raises(Cancelled):
        if where:
            predict_where(runner, image, norm, 3, 4, np.ones(shape, bool), tile=64, cancel=cancel)
        else:
            predict_tiled(runner, image, norm, 3, 4, tile=64, cancel=cancel)
    assert runner.calls == after


@pytest.mark.parametrize("where", [False, True])
def test_finished_rows_are_made_a_strip_at_a_time_beside_one_band(where):
    """A validation of a densely labelled 4000 px picture of 8 classes took 0.8 GB more:
    the finished rows of a band were divided, unweighted and argmaxed whole, several
    float copies of 8 x 960 x 4000 values. A strip of rows at a time, the memory is the
    band's and the outputs' plus a few strips'."""
    n = 16
    h, w, tile = 1000, 2000, 512
    image = _image(h, w)
    norm = fit_normalizer(image, 1)
    weights = np.linspace(0.5, 2.0, n).astype(np.float32)
    probabilities = np.linspace(1.0, 2.0, n) * weights  # the last class, weights divided out
    runner = Constant(*(probabilities / probabilities.sum()))
    band = (n + 1) * tile * w * 4  # the accumulators: (C + 1) float32 rows of one tile
    tile_out = n * tile * tile * 4  # one tile's probabilities, from the runner
    wanted = np.ones((h, w), bool)
    tracemalloc.start()
    try:
        if where:
            got = predict_where(runner, image, norm, n, 4, wanted, tile=tile, class_weights=weights)
            outputs = got.nbytes
        else:
            out = predict_tiled(
                runner,
                image,
                norm,
                n,
                4,
                tile=tile,
                keep_probabilities=False,
                class_weights=weights,
            )
            got, outputs = out.mask, out.mask.nbytes + out.uncertainty.nbytes
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (got == n - 1).all()
    # A strip of 64 rows: 16 x 64 x 2000 float32 = 8 MB a copy (a band: 62 MB).
    assert peak < outputs + band + tile_out + 24 * 2**20, (peak / 2**20, band / 2**20)
