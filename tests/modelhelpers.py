"""Helpers for tests of the proposal worker: a project whose ranking takes a while,
model calls as slow as a CPU's, and waiting for a condition."""

from __future__ import annotations

import time
from typing import Any

SIZE = 64


def tiny_settings(steps: int, **changes: Any):
    """Loop settings of a tiny network and a step budget on the CPU (a round takes about
    a second on two cores), keeping on off (tests that count rounds; it is tested on its
    own), with ``changes``."""
    from annotator.services.model_service import ModelSettings

    return ModelSettings(
        seconds=None,
        steps=steps,
        device="cpu",
        depth=2,
        width=8,
        crop=64,
        batch_size=4,
        threads=1,
        keep_training=False,
        **changes,
    )


def ranked_project(tmp_path, n_images=40):
    """A project of ``n_images`` synthetic cell pictures, the first two labelled and done,
    with a tiny model v1: the ranking has ``n_images - 3`` images to score."""
    import cv2

    from annotator.core.schema import LabelSchema
    from annotator.core.status import ImageStatus
    from annotator.core.synthetic import synthetic_cells
    from annotator.ml.networks import NetworkConfig
    from annotator.ml.train import TrainConfig
    from annotator.services import training
    from annotator.storage.project import Project

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(n_images):
        image, _ = synthetic_cells(seed=i, size=SIZE, n_cells=3)
        cv2.imwrite(str(folder / f"cells_{i:02d}.png"), image)
    root = tmp_path / "proj"
    with Project.create(root, LabelSchema.from_names(["background", "cell", "nucleus"])) as p:
        p.add_images([folder])
        for i, record in enumerate(p.images()[:2]):
            _, truth = synthetic_cells(seed=i, size=SIZE, n_cells=3)
            p.save_mask(record.id, truth, status=ImageStatus.DONE)
        training.train_project(
            p,
            steps=2,
            device="cpu",
            network=NetworkConfig(in_channels=1, n_classes=3, depth=2, width=8),
            config=TrainConfig(crop=64, batch_size=4, lr=5e-3, val_fraction=0.25, seed=0),
            export_onnx=False,
        )
    return root


def slow_model_calls(monkeypatch, seconds):
    """Every model call sleeps ``seconds`` first, without looking at its cancel token (a
    CPU inference); returns a one-item list whose value can be changed meanwhile."""
    from annotator.ml.predict import Predictor

    delay = [seconds]
    real_predict = Predictor.predict

    def predict(self, image, **kwargs):
        time.sleep(delay[0])
        return real_predict(self, image, **kwargs)

    monkeypatch.setattr(Predictor, "predict", predict)
    return delay


def wait_until(condition, timeout: float = 10.0) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def choice_round(pictures, choice, in_channels: int, config):
    """A 150-step round of a tiny network of Channel Choice ``choice`` on ``pictures``
    (``(picture, truth)`` pairs of classes bg and disc), labelled on every third pixel of
    every third row; its ``train_round`` result."""
    import numpy as np

    from annotator.ml.networks import NetworkConfig
    from annotator.ml.train import TrainImage, TrainRequest, train_round

    images = []
    for i, (im, truth) in enumerate(pictures):
        mask = np.full(truth.shape, 255, np.uint8)
        mask[::3, ::3] = truth[::3, ::3]
        images.append(TrainImage(i + 1, f"t{i}", im, mask))
    request = TrainRequest(
        tuple(images),
        ("bg", "disc"),
        NetworkConfig(in_channels, 2, 2, 8, channel_choice=choice),
        max_steps=150,
        config=config,
        device="cpu",
    )
    return request, train_round(request)


def trained_iou(result, tests, value: int = 1) -> float:
    """The IoU of class ``value`` over ``tests`` (``(picture, truth)`` pairs) of the model
    a training round gave (``result`` of ``ml.train.train_round``)."""
    from annotator.ml.networks import build_network, load_weights
    from annotator.ml.predict import Predictor

    model = load_weights(build_network(result.network), result.state_dict)
    predictor = Predictor.from_model(model, device="cpu")
    inter = union = 0
    for im, truth in tests:
        found = predictor.predict(im).mask == value
        inter += int((found & (truth == value)).sum())
        union += int((found | (truth == value)).sum())
    return inter / union
