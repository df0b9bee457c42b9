"""What a round holds to its end: past a memory budget, in a scratch file (ADR 0039);
crop centres as int32 within a budget of their own."""

from __future__ import annotations

import mmap

import numpy as np
import torch

from annotator.ml import data
from annotator.ml.data import CropSampler, coords_cap, prepare
from annotator.ml.networks import NetworkConfig
from annotator.ml.train import TrainConfig, TrainImage, TrainRequest, train_round
from annotator.services.training import build_request, train_project
from annotator.storage import spill as spill_module
from annotator.storage.spill import Spill


def _mapped(array: np.ndarray) -> bool:
    base = array
    while base is not None and not isinstance(base, mmap.mmap):
        base = base.base
    return base is not None


class _Recorder:
    """A spill's ``keep`` that notes what it was given and what it gave back."""

    def __init__(self, spill: Spill) -> None:
        self.spill, self.given = spill, []

    def __call__(self, array: np.ndarray) -> np.ndarray:
        kept = self.spill.keep(array)
        self.given.append(kept)
        return kept


def _same_weights(a, b) -> None:
    assert a.state_dict is not None and b.state_dict is not None
    for key, value in a.state_dict.items():
        assert torch.equal(value, b.state_dict[key]), key


def test_a_round_that_spills_every_array_ends_as_the_one_in_memory(cells_project, tmp_path):
    """The pictures, label maps and targets of a round (held-out blocks: 3 images) read
    from the scratch file give the same weights and scores, to the bit."""
    config = TrainConfig(crop=64, batch_size=4, val_fraction=0.25, seed=0, accepted_border=1)
    plain = train_round(build_request(cells_project, steps=4, device="cpu", config=config))
    keep = _Recorder(Spill(tmp_path / "scratch", budget=0, smallest=0))
    request = build_request(cells_project, steps=4, device="cpu", config=config, keep=keep)
    assert all(_mapped(im.pixels) and _mapped(im.mask) for im in request.images)
    spilled = train_round(request)
    _same_weights(plain, spilled)
    assert spilled.metrics == plain.metrics and spilled.final_loss == plain.final_loss
    # pictures and maps (6), then each image's targets, its training and held-out blocks
    assert len(keep.given) >= 6 + 3 * 3 and all(_mapped(a) for a in keep.given)
    assert list((tmp_path / "scratch").iterdir()) == []


def _four_band_request(keep=None) -> TrainRequest:
    rng = np.random.default_rng(3)
    images = []
    for i in range(6):  # whole images held out from five on
        pixels = rng.integers(0, 4000, (48, 64, 4), dtype=np.uint16)
        mask = np.full((48, 64), 255, np.uint8)
        mask[4:30, 3:40] = 0
        mask[20:44, 30:60] = 1
        images.append(TrainImage(i, f"b{i}", pixels, mask))
    return TrainRequest(
        images=tuple(images),
        class_names=("a", "b"),
        network=NetworkConfig(3, 2, 2, 4, channel_choice=(3, 1, 0)),
        max_steps=3,
        config=TrainConfig(crop=32, batch_size=2, val_fraction=0.2, seed=1),
        device="cpu",
        keep=keep,
    )


def test_the_chosen_channels_of_a_picture_are_kept_too(tmp_path):
    """Picking three of four bands makes a copy of each picture, which the round holds."""
    keep = _Recorder(Spill(tmp_path, budget=0, smallest=0))
    spilled = train_round(_four_band_request(keep))
    _same_weights(train_round(_four_band_request()), spilled)
    picked = [a for a in keep.given if a.ndim == 3]
    assert len(picked) == 5 and all(a.shape == (48, 64, 3) and _mapped(a) for a in picked)


def test_train_project_spills_past_its_budget_and_leaves_no_file(cells_project, monkeypatch):
    monkeypatch.setattr(spill_module, "IN_MEMORY_BYTES", 20_000)
    monkeypatch.setattr(spill_module, "SMALLEST_SPILLED", 0)
    spills: list[Spill] = []
    real = Spill.__init__

    def noted(self, *args, **kwargs):
        real(self, *args, **kwargs)
        spills.append(self)

    monkeypatch.setattr(Spill, "__init__", noted)
    outcome = train_project(cells_project, steps=2, device="cpu", export_onnx=False)
    assert outcome.model is not None and outcome.model.version == 1
    (spill,) = spills
    assert spill.folder == cells_project.models_dir
    assert spill.in_memory <= 20_000 and spill.spilled > 3 * 96 * 96
    assert not [p for p in cells_project.models_dir.iterdir() if p.suffix == ".spill"]


def test_centres_of_thousands_of_pictures_share_a_budget():
    assert coords_cap(30, 6) == 200_000  # what the loop's projects keep: every pixel
    assert coords_cap(1000, 11) == data.COORDS_BUDGET // 11_000
    assert coords_cap(10**7, 20) == 256


def test_fewer_centres_kept_draw_pictures_and_classes_by_their_labelled_pixels():
    """Keeping 20 centres of a class must not make a picture of few labels weigh as much
    in pixel-uniform draws as one of many: each weighs with its labelled pixels."""
    rng = np.random.default_rng(0)
    big = np.zeros((100, 100), np.int16)  # 10,000 labelled pixels: 9,000 a, 1,000 b
    big[:10] = 1
    small = np.full((100, 100), -1, np.int16)
    small[:10, :50] = 0  # 500 of a
    images = [
        prepare(i, np.zeros((1, 100, 100), np.float32), t, 1.0, 2, rng, cap=20)
        for i, t in enumerate((big, small))
    ]
    assert [c.size for c in images[0].coords] == [20, 20] and images[0].counts == [9000, 1000]
    assert [c.size for c in images[1].coords] == [20, 0] and images[1].counts == [500, 0]
    assert images[1].class_counts() == [500, 0]
    sampler = CropSampler(images, 2, 16, np.random.default_rng(1), None, balanced=0.0)
    picks = [sampler._centre() for _ in range(4000)]
    share_big = sum(im.image_id == 0 for im, _ in picks) / len(picks)
    assert abs(share_big - 10_000 / 10_500) < 0.02
    b_rows = [idx // 100 for im, idx in picks if im.image_id == 0 and idx // 100 < 10]
    assert abs(len(b_rows) / sum(im.image_id == 0 for im, _ in picks) - 0.1) < 0.03
    # Every centre drawn is one of those kept.
    for im, idx in picks:
        assert any(idx in set(c.tolist()) for c in im.coords)


def test_a_round_keeps_every_centre_of_the_loops_projects_as_before():
    """Below the budget nothing changes: the counts are the centres' own."""
    rng = np.random.default_rng(0)
    target = rng.integers(-1, 3, (64, 80)).astype(np.int16)
    image = prepare(1, np.zeros((1, 64, 80), np.float32), target, 1.0, 3, rng)
    assert image.counts is None
    assert image.class_counts() == [int((target == c).sum()) for c in range(3)]


def test_the_round_lets_go_of_its_arrays_before_the_version_is_written(cells_project, monkeypatch):
    """Past the budget the arrays map the scratch file, whose disk stayed taken while
    the version was written: a disk with room for the round but not both said "the disk
    is full" at the end of a round that had trained."""
    import gc
    import weakref

    from annotator.services import training

    monkeypatch.setattr(spill_module, "IN_MEMORY_BYTES", 0)
    monkeypatch.setattr(spill_module, "SMALLEST_SPILLED", 0)
    kept: list[weakref.ref] = []
    real_keep = Spill.keep

    def noted(self, array):
        out = real_keep(self, array)
        kept.append(weakref.ref(out))
        return out

    alive_at_publish: list[int] = []
    real_publish = training.publish

    spills: list[Spill] = []
    real_init = Spill.__init__

    def made(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        spills.append(self)

    def publish(*args, **kwargs):
        gc.collect()
        alive_at_publish.append(sum(r() is not None for r in kept))
        alive_at_publish.append(sum(s._map is not None for s in spills))  # (its segment)
        return real_publish(*args, **kwargs)

    monkeypatch.setattr(Spill, "__init__", made)

    monkeypatch.setattr(Spill, "keep", noted)
    monkeypatch.setattr(training, "publish", publish)
    outcome = train_project(cells_project, steps=2, device="cpu", export_onnx=False)
    assert outcome.model is not None and len(kept) >= 6
    assert alive_at_publish == [0, 0]
    card = cells_project.active_model().card
    named = {ref.name for ref in card.train_images + card.validation_images}
    assert named == {r.name for r in cells_project.images()[:3]}  # (the card names them still)
