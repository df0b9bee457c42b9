"""Take the README screenshots of the active-learning loop on ISBI 2012 images.

Builds a throw-away project from a few ISBI 2012 membrane images, labels three of them
from their ground truth (as if the user had), trains a few model versions, then opens
the real MainWindow on an unlabelled image and saves:

* ``proposal.png``: the window with the proposal layer (outlines and hatching) over an
  image whose left part the user has already labelled;
* ``uncertainty.png``: the same image with the uncertainty heat map;
* ``model-panel.png``: the model panel during a training round (progress, IoU chart).

Usage::

    xvfb-run -s "-screen 0 1600x1000x24" python scripts/screenshot_loop.py [--data DIR]

``--data`` defaults to ``../shared/data/isbi2012-membrane`` next to the repository.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "isbi2012-membrane"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    parser.add_argument("--size", default="1500x920", help="window size WxH")
    parser.add_argument("--rounds", type=int, default=3, help="model versions to train")
    parser.add_argument("--seconds", type=float, default=30.0, help="budget of each round")
    args = parser.parse_args(argv)
    if "DISPLAY" not in os.environ:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    images_dir, labels_dir = args.data / "images", args.data / "labels"
    if not images_dir.is_dir():
        print(f"no ISBI images in {images_dir} (use --data)", file=sys.stderr)
        return 1

    import cv2
    import numpy as np
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from annotator.core.labelmap import LabelMap
    from annotator.core.schema import LabelSchema
    from annotator.core.status import ImageStatus
    from annotator.gui.main_window import MainWindow
    from annotator.services import training
    from annotator.services.model_service import ModelSettings
    from annotator.storage.project import Project

    app = QApplication.instance() or QApplication(sys.argv[:1])

    def pump(until, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
        end = time.monotonic() + timeout
        while not until() and time.monotonic() < end:
            loop = QEventLoop()
            QTimer.singleShot(50, loop.quit)
            loop.exec()

    tmp = Path(tempfile.mkdtemp(prefix="annotator-shot-"))
    try:
        picked = tmp / "isbi"
        picked.mkdir()
        names = sorted(images_dir.glob("*.png"), key=lambda p: int(p.stem))[:8]
        for p in names:
            shutil.copy(p, picked / f"isbi_{int(p.stem):02d}.png")
        schema = LabelSchema.from_names(["membrane", "cell"]).recoloured(0, "#4363d8")
        schema = schema.recoloured(1, "#f58231")
        with Project.create(tmp / "project", schema) as project:
            project.add_images([picked])
            records = project.images()
            for rec, name in zip(records[:3], names[:3]):
                truth = np.asarray(cv2.imread(str(labels_dir / name.name), cv2.IMREAD_GRAYSCALE))
                lm = LabelMap.for_schema(schema, np.asarray(truth > 127, np.uint8))
                project.save_mask(rec.id, lm.array, status=ImageStatus.DONE)
            for _ in range(args.rounds):
                out = training.train_project(project, seconds=args.seconds, device="cpu")
                made = out.model.version if out.model is not None else "-"
                print(f"trained v{made}: {out.result.message}")
            # The image shown: its left part is labelled, the rest is unlabelled.
            shown = records[3]
            truth = np.asarray(cv2.imread(str(labels_dir / names[3].name), cv2.IMREAD_GRAYSCALE))
            lm = LabelMap.blank(schema, shown.height, shown.width)
            xx = np.mgrid[0 : shown.height, 0 : shown.width][1]
            lm.assign(np.asarray(truth > 127, np.uint8), where=xx < 170)
            project.save_mask(shown.id, lm.array)
            project.set_setting("gui.last_image", shown.id)

        window = MainWindow()
        w, h = (int(v) for v in args.size.split("x"))
        window.resize(w, h)
        window.loop.settings_override = ModelSettings(seconds=60.0, device="cpu")
        window.show()
        window.open_project(tmp / "project")
        loop = window.loop
        pump(lambda: loop.layers.proposal is not None)
        assert loop.service is not None
        loop.service.wait_proposals(120)
        pump(lambda: not loop._score_timer.isActive() and not loop._pending_scores, 5)
        window.image_list.set_sort("uncertainty")
        window.class_panel.select_index(1)
        window.canvas.fit_to_window()
        pump(lambda: True)
        args.out.mkdir(parents=True, exist_ok=True)
        shots = []

        def save(widget, name: str) -> None:  # type: ignore[no-untyped-def]
            for _ in range(5):
                app.processEvents()
            path = args.out / name
            if not widget.grab().save(str(path)):
                raise OSError(f"could not write {path}")
            shots.append(path)

        save(window, "proposal.png")
        window.actions_["toggle_proposal"].setChecked(False)
        window.actions_["toggle_uncertainty"].setChecked(True)
        save(window, "uncertainty.png")
        window.actions_["toggle_uncertainty"].setChecked(False)
        window.actions_["toggle_proposal"].setChecked(True)

        # The model panel while a round runs.
        loop.train_now()
        pump(lambda: loop.panel.progress.value() > 350, 90)
        dock = loop.panel.parentWidget()
        save(dock if dock is not None else loop.panel, "model-panel.png")
        loop.cancel_training()
        window.close()
        for p in shots:
            print(f"wrote {p}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
