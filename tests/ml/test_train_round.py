"""Training rounds: partial labels, budgets, cancel, divergence, versions and rollback."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import FAST, TINY

import annotator.ml.train as train_mod
from annotator.core.errors import ModelError
from annotator.ml.data import IGNORE, fit_normalizer
from annotator.ml.networks import DEFAULT_ARCH, NetworkConfig, build_network, load_weights
from annotator.ml.predict import Predictor
from annotator.ml.train import TrainImage, TrainRequest, train_round
from annotator.services import proposals, training, versions


def two_textures(seed: int, size: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """Left: grainy texture; right: smooth. Same mean brightness, so only texture tells."""
    rng = np.random.default_rng(seed)
    image = np.full((size, size), 128.0)
    truth = np.zeros((size, size), np.uint8)
    truth[:, size // 2 :] = 1
    image[:, : size // 2] += rng.normal(0, 45, (size, size // 2))
    image[:, size // 2 :] += rng.normal(0, 4, (size, size - size // 2))
    return np.clip(image, 0, 255).astype(np.uint8), truth


def strokes(size: int = 96) -> np.ndarray:
    """Three short strokes per class; everything else unlabelled (255)."""
    mask = np.full((size, size), 255, np.uint8)
    for y in (20, 50, 80):
        mask[y : y + 3, 10:35] = 0
        mask[y : y + 3, 60:85] = 1
    return mask


@pytest.mark.slow
def test_a_few_strokes_per_class_are_enough_to_separate_two_textures():
    image, truth = two_textures(0)
    mask = strokes()
    assert (mask != 255).mean() < 0.05  # under 5% of the pixels are labelled
    request = TrainRequest(
        images=(TrainImage(1, "a", image, mask),),
        class_names=("grainy", "smooth"),
        network=NetworkConfig(1, 2, depth=2, width=8),
        max_steps=120,
        config=replace(FAST, val_fraction=0.0),
        device="cpu",
    )
    result = train_round(request)
    assert result.status == "finished" and result.publishable
    assert result.network.arch == DEFAULT_ARCH
    model = load_weights(build_network(result.network), result.state_dict)
    test_image, test_truth = two_textures(1)  # unseen pixels of the same two textures
    proposal = Predictor.from_model(model, device="cpu").predict(test_image)
    accuracy = (proposal.mask == test_truth).mean()
    assert accuracy > 0.9, accuracy


def test_unlabelled_pixels_never_train(monkeypatch):
    # A target with no labelled pixels at all is not training data.
    image, _ = two_textures(0)
    empty = np.full(image.shape, 255, np.uint8)
    request = TrainRequest(
        (TrainImage(1, "a", image, empty),),
        ("a", "b"),
        NetworkConfig(1, 2, 2, 4),
        max_steps=1,
        device="cpu",
    )
    with pytest.raises(ModelError, match="no labelled pixels"):
        train_round(request)


def test_the_step_budget_is_exact_and_progress_is_reported():
    image, _ = two_textures(0)
    seen = []
    request = TrainRequest(
        (TrainImage(1, "a", image, strokes()),),
        ("a", "b"),
        NetworkConfig(1, 2, 2, 4),
        max_steps=7,
        config=FAST,
        device="cpu",
    )
    result = train_round(request, progress=seen.append)
    assert result.steps == 7
    assert [p.step for p in seen if p.phase == "train"] == list(range(1, 8))
    assert seen[-1].fraction == 1.0


def test_the_time_budget_stops_the_round():
    image, _ = two_textures(0)
    request = TrainRequest(
        (TrainImage(1, "a", image, strokes()),),
        ("a", "b"),
        NetworkConfig(1, 2, 2, 4),
        max_seconds=1.0,
        config=FAST,
        device="cpu",
    )
    result = train_round(request)
    assert result.status == "finished"
    assert 1.0 <= result.seconds < 10.0 and result.steps > 1


def test_same_seed_gives_the_same_weights_on_cpu():
    image, _ = two_textures(0)
    request = TrainRequest(
        (TrainImage(1, "a", image, strokes()),),
        ("a", "b"),
        NetworkConfig(1, 2, 2, 4),
        max_steps=5,
        config=FAST,
        device="cpu",
    )
    a, b = train_round(request), train_round(request)
    for k in a.state_dict:
        assert torch.equal(a.state_dict[k], b.state_dict[k]), k


def test_one_labelled_image_is_validated_on_held_out_pixel_blocks():
    image, _ = two_textures(0, size=128)
    mask = np.zeros((128, 128), np.uint8)
    mask[:, 64:] = 1
    request = TrainRequest(
        (TrainImage(1, "a", image, mask),),
        ("a", "b"),
        NetworkConfig(1, 2, 2, 4),
        max_steps=3,
        config=FAST,
        device="cpu",
    )
    result = train_round(request)
    assert result.metrics is not None and result.metrics.images == (1,)
    assert 0 < result.metrics.pixels < 128 * 128 // 2
    assert len(result.metrics.iou) == 2


def test_a_round_continues_from_the_active_version_and_records_its_parent(cells_project):
    first = training.train_project(
        cells_project, steps=3, network=TINY, config=FAST, device="cpu", export_onnx=False
    )
    assert first.model.version == 1 and first.model.parent is None
    second = training.train_project(
        cells_project, steps=3, config=FAST, device="cpu", export_onnx=False
    )
    assert second.model.version == 2 and second.model.parent == 1
    card = second.model.card
    assert card.parent == 1 and card.training.from_scratch is False
    assert card.architecture == TINY.to_dict()
    assert card.class_names == cells_project.schema.names
    used = {i.id for i in card.train_images} | {i.id for i in card.validation_images}
    assert used == {1, 2, 3}
    assert set(card.metrics.iou) == set(cells_project.schema.names)
    assert cells_project.active_model().version == 2
    scratch = training.train_project(
        cells_project,
        steps=2,
        network=TINY,
        config=FAST,
        device="cpu",
        from_scratch=True,
        export_onnx=False,
    )
    assert scratch.model.parent is None and scratch.model.card.training.from_scratch


def test_recently_labelled_images_weigh_more_in_the_next_round(cells_project, monkeypatch):
    import datetime as dt

    import annotator.core.records as records

    # An hour from now, on a whole second: after the fixture's labels, whenever this runs
    # (a fixed date here made every image "recent" once the real clock passed it).
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=1)

    class SameSecond(dt.datetime):
        """Every event within one second: only the microseconds tell them apart."""

        ticks = 0

        @classmethod
        def now(cls, tz=None):  # type: ignore[override]
            cls.ticks += 1
            return (start + dt.timedelta(microseconds=cls.ticks)).astimezone(tz)

    monkeypatch.setattr(records, "datetime", SameSecond)
    training.train_project(
        cells_project, steps=2, network=TINY, config=FAST, device="cpu", export_onnx=False
    )
    # The fourth image gets labelled after version 1 was published, in the same second.
    rec = cells_project.images()[3]
    mask = cells_project.new_mask(rec)
    mask[:10, :10] = 0
    cells_project.save_mask(rec.id, mask)
    request = training.build_request(cells_project, steps=1)
    weights = {im.image_id: im.weight for im in request.images}
    assert weights[rec.id] == training.RECENT_WEIGHT
    assert all(w == 1.0 for i, w in weights.items() if i != rec.id)


def test_cancel_mid_round_keeps_the_previous_version(cells_project):
    training.train_project(
        cells_project, steps=2, network=TINY, config=FAST, device="cpu", export_onnx=False
    )
    cancel = threading.Event()
    steps = []

    def progress(p):
        steps.append(p.step)
        if p.step == 3:
            cancel.set()

    outcome = training.train_project(
        cells_project, steps=1000, progress=progress, cancel=cancel, config=FAST, device="cpu"
    )
    assert outcome.result.status == "cancelled" and outcome.model is None
    assert max(steps) == 3  # stopped at the next batch
    assert [m.version for m in cells_project.models()] == [1]
    assert cells_project.active_model().version == 1
    assert not (cells_project.models_dir / "v0002").exists()


def test_a_cancel_while_the_labels_are_read_stops_before_the_next_image(cells_project, monkeypatch):
    """Reading a big project's images is most of a round's start: closing the window
    then must not wait for all of them."""
    from annotator.core.errors import Cancelled

    cancel = threading.Event()
    read = []
    load = cells_project.load_image

    def counted(rec):
        read.append(rec.id)
        cancel.set()  # the window closes while the first image is read
        return load(rec)

    monkeypatch.setattr(cells_project, "load_image", counted)
    with pytest.raises(Cancelled):
        training.train_project(cells_project, steps=1, cancel=cancel, device="cpu")
    assert len(read) == 1 and cells_project.models() == []


def test_a_nan_loss_does_not_publish(cells_project, monkeypatch):
    real = train_mod.segmentation_loss
    calls = []

    def poisoned(logits, target, dice_weight=0.0, class_weights=None):
        calls.append(1)
        loss = real(logits, target, dice_weight, class_weights)
        return loss * float("nan") if len(calls) >= 4 else loss

    monkeypatch.setattr(train_mod, "segmentation_loss", poisoned)
    outcome = training.train_project(
        cells_project, steps=50, network=TINY, config=FAST, device="cpu"
    )
    assert outcome.result.status == "diverged"
    assert outcome.result.steps == 4  # stops at once, does not waste the budget
    assert outcome.model is None and cells_project.models() == []
    assert cells_project.active_model() is None
    with pytest.raises(ModelError, match="cannot be published"):
        training.publish(cells_project, None, outcome.result)


def test_rollback_makes_an_older_version_active_and_proposals_follow(cells_project):
    training.train_project(
        cells_project, steps=2, network=TINY, config=FAST, device="cpu", export_onnx=False
    )
    training.train_project(cells_project, steps=2, config=FAST, device="cpu", export_onnx=False)
    assert cells_project.active_model().version == 2
    versions.rollback(cells_project, 1)
    assert cells_project.active_model().version == 1
    assert proposals.load_predictor(cells_project, device="cpu").version == 1
    # The next round continues from the rolled-back version.
    third = training.train_project(
        cells_project, steps=2, config=FAST, device="cpu", export_onnx=False
    )
    assert third.model.version == 3 and third.model.parent == 1
    with pytest.raises(Exception, match="no model version 9"):
        versions.rollback(cells_project, 9)
    # A version made before a class was added still proposes the classes it knows, so
    # rolling back to it is fine; one whose class changed meaning is not.
    cells_project.set_schema(cells_project.schema.with_class("debris"))
    assert versions.rollback(cells_project, 2).version == 2
    assert proposals.load_predictor(cells_project, device="cpu").version == 2
    cells_project.set_schema(cells_project.schema.renamed(1, "blob"))
    with pytest.raises(ModelError):
        versions.rollback(cells_project, 1)


def test_a_parent_with_other_classes_is_refused(cells_project):
    training.train_project(
        cells_project, steps=2, network=TINY, config=FAST, device="cpu", export_onnx=False
    )
    # Added classes are fine (the head grows); a class that changed meaning is not.
    cells_project.set_schema(cells_project.schema.renamed(1, "debris"))
    with pytest.raises(ModelError, match="trained for classes"):
        training.train_project(cells_project, steps=2, config=FAST, device="cpu")
    outcome = training.train_project(
        cells_project,
        steps=2,
        config=FAST,
        device="cpu",
        from_scratch=True,
        network=TINY,
        export_onnx=False,
    )
    assert outcome.model.card.classes[1] == "debris"


def test_the_card_keeps_the_rounds_class_weights_and_proposals_divide_them_out(cells_project):
    """ADR 0012: a weighted loss pushes borders towards the rarer class; an accepted
    proposal would carry that push into the next round's labels, so proposals divide the
    weights out, and validation scores what the proposals will be."""
    from annotator.ml.train import class_weights

    every_label = replace(FAST, val_fraction=0.0)  # the weights of all the labels
    first = training.train_project(
        cells_project, steps=2, network=TINY, config=every_label, device="cpu", export_onnx=False
    )
    card = first.model.card
    names = cells_project.schema.names
    targets = []
    for rec in cells_project.images():
        m = cells_project.load_mask(rec)
        if m is not None:
            targets.append(np.where(m < len(names), m.astype(np.int16), -1))
    expected = class_weights(targets, len(names), FAST.class_weight_power)
    assert card.training.class_weights == pytest.approx(tuple(expected))
    counts = np.bincount(np.concatenate([t[t >= 0] for t in targets]), minlength=len(names))
    assert np.argmax(card.training.class_weights) == np.argmin(counts)  # rarest weighs most
    predictor = proposals.load_predictor(cells_project, device="cpu")
    assert predictor.class_weights.tolist() == pytest.approx(list(expected))

    unweighted = training.train_project(
        cells_project,
        steps=2,
        config=replace(FAST, class_weight_power=0.0),
        device="cpu",
        export_onnx=False,
    )
    assert unweighted.model.card.training.class_weights is None
    assert proposals.load_predictor(cells_project, device="cpu").class_weights is None


def _split_of(masks, val_fraction=0.2, seed=0):
    from types import SimpleNamespace

    from annotator.ml.train import TrainConfig, _split

    images = [
        SimpleNamespace(mask=m, accepted=None, image_id=i, pixels=None) for i, m in enumerate(masks)
    ]
    config = TrainConfig(val_fraction=val_fraction, accepted_border=0)
    request = SimpleNamespace(
        images=images, class_names=("bg", "cell", "nucleus"), config=config, keep=None
    )
    return _split(request, np.random.default_rng(seed))


def _trained_classes(train):
    return set().union(*(set(np.unique(t.values[t.values >= 0]).tolist()) for _, t in train))


def test_with_few_images_every_image_trains_and_validation_takes_blocks():
    """Two images: holding one out would train on half the labels (and, with the only
    labels of a class on it, never on that class)."""
    a = np.zeros((96, 96), np.uint8)
    a[40:60, 40:60] = 1  # the only cell labels
    b = np.zeros((96, 96), np.uint8)
    for seed in range(5):
        train, val = _split_of([a, b], seed=seed)
        assert [im.image_id for im, _ in train] == [0, 1] and val
        assert _trained_classes(train) == {0, 1}
        held = sum(int((t.values != IGNORE).sum()) for _, t in val)
        assert 0 < held < 0.5 * 2 * 96 * 96


def test_a_class_is_never_held_out_whole():
    one = np.full((96, 96), 255, np.uint8)
    one[:, :] = 0
    one[5:9, 5:9] = 2  # a scribble of nucleus inside one 32 px block
    for seed in range(20):  # whatever blocks are drawn, nucleus trains
        train, _ = _split_of([one], val_fraction=0.5, seed=seed)
        assert 2 in _trained_classes(train)
    many = [np.zeros((40, 40), np.uint8) for _ in range(6)]
    many[3][:10, :10] = 2  # only image 3 has nucleus
    for seed in range(20):
        train, val = _split_of(many, seed=seed)
        assert 2 in _trained_classes(train) and len(val) >= 1
        assert len(train) + len(val) == 6


def test_each_round_holds_out_other_labels(cells_project):
    """The split's seed includes the parent version: no label sits out every round."""
    import annotator.ml.train as train_mod

    seen = []
    real = train_mod._split

    def spy(request, rng, *rest):
        out = real(request, rng, *rest)
        seen.append(np.concatenate([(t.full() != IGNORE).ravel() for _, t in out[1]]))
        return out

    train_mod._split = spy  # noqa: SLF001
    try:
        for _ in range(2):
            training.train_project(
                cells_project, steps=1, network=TINY, config=FAST, device="cpu", export_onnx=False
            )
    finally:
        train_mod._split = real
    assert not np.array_equal(seen[0], seen[1])


def _batches_drawn(monkeypatch):
    """Fingerprints of every batch of crops drawn, one list per round (a spy)."""
    import hashlib

    from annotator.ml.data import CropSampler

    rounds: list[list[str]] = []
    real = CropSampler.batch

    def spy(self, n):
        x, t = real(self, n)
        rounds[-1].append(hashlib.sha1(x.tobytes() + t.tobytes()).hexdigest())
        return x, t

    monkeypatch.setattr(CropSampler, "batch", spy)
    return rounds


def test_consecutive_rounds_draw_other_crops(cells_project, monkeypatch):
    """The app trains every round with seed 0: the parent version in the crops' seed
    keeps two rounds on the same labels from training on the very same batches."""
    rounds = _batches_drawn(monkeypatch)
    config = replace(FAST, val_fraction=0.0)  # the same labels train in both rounds
    for _ in range(2):
        rounds.append([])
        training.train_project(
            cells_project, steps=3, network=TINY, config=config, device="cpu", export_onnx=False
        )
    versions_ = [m.version for m in cells_project.models()]
    assert len(versions_) == 2 and len(rounds[0]) == len(rounds[1]) == 3
    assert not set(rounds[0]) & set(rounds[1])


def test_the_same_seed_and_parent_draw_the_same_crops(monkeypatch):
    rounds = _batches_drawn(monkeypatch)
    images = tuple(TrainImage(i + 1, f"c{i}", *two_textures(i)) for i in range(2))

    def draw(parent, seed=0):
        rounds.append([])
        request = TrainRequest(
            images,
            ("grainy", "smooth"),
            NetworkConfig(1, 2, 2, 4),
            parent_version=parent,
            max_steps=3,
            config=replace(FAST, val_fraction=0.0, seed=seed),
            device="cpu",
        )
        assert train_round(request).status == "finished"
        return rounds[-1]

    assert draw(1) == draw(1)  # reproducible: same seed, same parent
    assert draw(None) == draw(None)
    assert not set(draw(1)) & set(draw(2))  # another parent: other crops
    assert not set(draw(2, seed=0)) & set(draw(2, seed=1))  # another seed: other crops


@pytest.mark.parametrize("when", ["validate", "export"])
def test_a_cancel_after_the_steps_publishes_nothing(cells_project, monkeypatch, when):
    """Ctrl+C during the validation or the ONNX export was ignored: the round published
    its version and the command ended with 0."""
    from annotator.services import training

    training.train_project(
        cells_project, steps=1, network=TINY, config=FAST, device="cpu", export_onnx=False
    )
    cancel = threading.Event()

    def progress(p):
        if when == "validate" and p.phase == "validate":
            cancel.set()

    if when == "export":
        import annotator.ml.checkpoint as checkpoint

        real_onnx = checkpoint.onnx_bytes

        def pressed_during_the_export(model):
            cancel.set()
            return real_onnx(model)

        monkeypatch.setattr(checkpoint, "onnx_bytes", pressed_during_the_export)
    outcome = training.train_project(
        cells_project,
        steps=2,
        network=TINY,
        config=replace(FAST, val_fraction=0.5) if when == "validate" else FAST,
        device="cpu",
        progress=progress,
        cancel=cancel,
        export_onnx=when == "export",
    )
    assert cancel.is_set()
    assert outcome.model is None and outcome.result.status == "cancelled"
    assert "unchanged" in outcome.result.message
    assert [m.version for m in cells_project.models()] == [1]
    assert sorted(p.name for p in (cells_project.root / "models").iterdir()) == ["v0001"]


def _big_round(val_fraction=0.5, size=2200, seed=0):
    """A picture of several 1024 px tiles, labelled in strokes over all of it."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (size, size), dtype=np.uint8)
    mask = np.full((size, size), 255, np.uint8)
    for y in range(60, size - 60, 300):
        mask[y : y + 40, 50 : size - 50] = (y // 300) % 2
    return TrainRequest(
        (TrainImage(1, "a", image, mask),),
        ("a", "b"),
        NetworkConfig(1, 2, 2, 4),
        max_steps=1,
        config=replace(FAST, val_fraction=val_fraction),
        device="cpu",
    )


class _Tiles:
    """Counts (and may slow down) the tiles the torch runner predicts."""

    def __init__(self, monkeypatch, delay=0.0):
        import time

        from annotator.ml.predict import TorchRunner

        self.calls = 0
        real = TorchRunner.__call__

        def call(runner, batch):
            self.calls += 1
            if delay:
                time.sleep(delay)
            return real(runner, batch)

        monkeypatch.setattr(TorchRunner, "__call__", call)


def test_validation_predicts_only_the_tiles_of_its_labels_and_scores_as_the_whole_picture(
    monkeypatch,
):
    """Validation predicted every pixel of every picture holding a held-out block: on a
    48 MP picture labelled at 0.5 %, minutes of a round spent on unlabelled pixels."""
    from annotator.ml.predict import TorchRunner, predict_tiled
    from annotator.ml.train import confusion, evaluate, metrics_from_confusion

    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (2200, 2300), dtype=np.uint8)
    target = np.full(image.shape, IGNORE, np.int16)
    target[300:330, 400:500] = 0  # held-out labels under 3 tiles of 9
    target[340:360, 400:500] = 1
    target[2000:2010, 900:1100] = 1  # across the seam of two tiles of the bottom row
    torch.manual_seed(0)
    model = build_network(NetworkConfig(1, 2, 2, 4)).eval()
    weights = np.array([0.7, 1.6], np.float32)
    cpu = torch.device("cpu")
    tiles = _Tiles(monkeypatch)
    whole = predict_tiled(
        TorchRunner(model, cpu),
        image,
        fit_normalizer(image, 1),
        2,
        model.config.multiple,
        keep_probabilities=False,
        class_weights=weights,
    )
    every_tile, tiles.calls = tiles.calls, 0
    expected = metrics_from_confusion(confusion(whole.mask, target, 2), (1,))
    got = evaluate(model, cpu, [(1, image, target)], 2, weights)
    assert got == expected
    assert every_tile == 9 and tiles.calls == 3


def test_a_cancel_during_validation_stops_it_before_the_next_tile(monkeypatch):
    """Cancel (and closing the window) waited for the whole validation: 189 s on the
    audit's big pictures."""
    tiles = _Tiles(monkeypatch)
    cancel = threading.Event()

    def progress(p):
        if p.phase == "validate":
            cancel.set()

    result = train_round(_big_round(), progress, cancel)
    assert result.status == "cancelled" and result.state_dict is None
    assert "unchanged" in result.message
    assert tiles.calls == 0


def test_validation_reports_its_progress_and_its_time(monkeypatch):
    _Tiles(monkeypatch, delay=0.3)
    seen = []
    result = train_round(_big_round(), seen.append)
    validating = [p.elapsed_s for p in seen if p.phase == "validate"]
    assert len(validating) >= 3, validating
    assert validating == sorted(validating) and validating[-1] - validating[0] >= 0.5
    assert result.status == "finished" and result.validation_seconds >= 0.9
    assert "validated in" in result.message


def test_a_cancel_while_the_labels_are_prepared_ends_the_round_before_any_step(monkeypatch):
    from annotator.core.errors import Cancelled

    cancel = threading.Event()
    real = train_mod.fit_normalizer

    def pressed_meanwhile(*args):
        cancel.set()
        return real(*args)

    monkeypatch.setattr(train_mod, "fit_normalizer", pressed_meanwhile)
    image, _ = two_textures(0)
    request = TrainRequest(
        tuple(TrainImage(i, str(i), image, strokes()) for i in range(3)),
        ("a", "b"),
        NetworkConfig(1, 2, 2, 4),
        max_steps=5,
        config=FAST,
        device="cpu",
    )
    seen = []
    with pytest.raises(Cancelled, match="preparing"):
        train_round(request, seen.append, cancel)
    assert not [p for p in seen if p.phase == "train"]


def test_validation_counts_its_pixels_in_bounded_memory():
    """The confusion of a densely labelled 16 MP picture made int64 indices of every
    labelled pixel at once (0.5 GB), and the validation held every picture's mask of
    labelled pixels together; the counts are the same a chunk and a picture at a time."""
    import tracemalloc

    from annotator.ml.train import confusion, evaluate

    rng = np.random.default_rng(5)
    n = 4
    target = rng.integers(-1, n + 1, (2000, 2000)).astype(np.int16)  # -1 and n: not labels
    pred = rng.integers(0, n, target.shape).astype(np.uint8)
    tracemalloc.start()
    try:
        got = confusion(pred, target, n)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    expected = np.array([[((target == t) & (pred == p)).sum() for p in range(n)] for t in range(n)])
    assert np.array_equal(got, expected) and got.sum() == ((target >= 0) & (target < n)).sum()
    assert peak < 30 * 2**20, peak / 2**20  # all at once: 49 MB
    assert np.array_equal(confusion(pred[0], target[0], n), confusion(pred[:1], target[:1], n))

    torch.manual_seed(0)
    model = build_network(NetworkConfig(1, 2, 2, 4)).eval()
    items = [
        (i, rng.integers(0, 256, (500, 500), dtype=np.uint8), rng.integers(-1, 2, (500, 500)))
        for i in range(30)
    ]
    held = sum(t.nbytes for _, _, t in items)
    tracemalloc.start()
    try:
        metrics = evaluate(model, torch.device("cpu"), items, 2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert metrics.pixels == sum(int((t >= 0).sum()) for _, _, t in items)
    # One picture's mask and probabilities at a time (all 30 masks: 11 MB).
    assert peak < 6 * 2**20, (peak / 2**20, held / 2**20)
