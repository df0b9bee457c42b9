"""Helpers for GUI tests: pixel positions on the canvas and mouse gestures, and a
project whose ranking takes a while."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

SIZE = 64
ZOOM = 5.0


def center(canvas) -> None:
    """A fixed, known zoom with the image centred, so pixel positions are predictable."""
    canvas.set_zoom(ZOOM)
    canvas.centerOn(QPointF(SIZE / 2, SIZE / 2))


def at(canvas, x: float, y: float) -> QPoint:
    """The viewport position of the centre of image pixel (x, y)."""
    return canvas.mapFromScene(QPointF(x + 0.5, y + 0.5))


def drag(canvas, points, button=Qt.MouseButton.LeftButton) -> None:
    """Press at the first point, move through the others, release at the last."""
    vp = canvas.viewport()
    QTest.mousePress(vp, button, Qt.KeyboardModifier.NoModifier, at(canvas, *points[0]))
    for p in points[1:]:
        QTest.mouseMove(vp, at(canvas, *p))
    QTest.mouseRelease(vp, button, Qt.KeyboardModifier.NoModifier, at(canvas, *points[-1]))


def press(canvas, x: float, y: float) -> None:
    """Press the left button on pixel (x, y) and keep it held (a gesture in progress)."""
    _left(QTest.mousePress, canvas, x, y)


def release(canvas, x: float, y: float) -> None:
    _left(QTest.mouseRelease, canvas, x, y)


def _left(event, canvas, x: float, y: float) -> None:
    event(
        canvas.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        at(canvas, x, y),
    )


def click(canvas, x, y, button=Qt.MouseButton.LeftButton) -> None:
    QTest.mouseClick(canvas.viewport(), button, Qt.KeyboardModifier.NoModifier, at(canvas, x, y))


def model_file(path, names):
    """A checkpoint of a tiny untrained network for classes ``names`` (as if exported)."""
    from annotator.core.card import ModelCard
    from annotator.ml.checkpoint import checkpoint_bytes
    from annotator.ml.networks import NetworkConfig, build_network

    config = NetworkConfig(in_channels=1, n_classes=len(names), depth=2, width=4)
    card = ModelCard(version=5, architecture=config.to_dict(), classes=tuple(names))
    path.write_bytes(checkpoint_bytes(build_network(config).state_dict(), card))
    return path


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
    import time

    from annotator.ml.predict import Predictor

    delay = [seconds]
    real_predict = Predictor.predict

    def predict(self, image, **kwargs):
        time.sleep(delay[0])
        return real_predict(self, image, **kwargs)

    monkeypatch.setattr(Predictor, "predict", predict)
    return delay


def timed_proposal_waits(monkeypatch):
    """The seconds each ``ModelService.wait_proposals`` call waited, as they come."""
    import time

    from annotator.services.model_service import ModelService

    waits = []
    real_wait = ModelService.wait_proposals

    def timed_wait(self, timeout=30.0):
        began = time.monotonic()
        idle = real_wait(self, timeout)
        waits.append(time.monotonic() - began)
        return idle

    monkeypatch.setattr(ModelService, "wait_proposals", timed_wait)
    return waits
