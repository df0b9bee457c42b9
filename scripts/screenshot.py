"""Take the README screenshot: the main window on a partly labelled ISBI 2012 image.

Builds a throw-away project from a few ISBI 2012 membrane images, labels part of the
first one from its ground truth (as if the user had painted it), marks one image done,
opens the real MainWindow and saves a picture of it.

Usage::

    python scripts/screenshot.py [--data DIR] [--out docs/images/main-window.png]
                                 [--outlines docs/images/guide-outlines.png]

``--outlines`` also saves the canvas at zoom 3 with the labels drawn as outlines (View >
Labels as outlines), for the user guide.

Runs offscreen by default; under ``xvfb-run`` (``QT_QPA_PLATFORM=xcb``) it shows a real
window first. ``--data`` defaults to ``../shared/data/isbi2012-membrane`` next to the
repository (folders ``images/`` and ``labels/``, labels 0 = membrane, 255 = cell).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "isbi2012-membrane"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "main-window.png")
    parser.add_argument("--size", default="1400x860", help="window size WxH")
    parser.add_argument("--outlines", type=Path, help="also the outline view's picture here")
    args = parser.parse_args(argv)
    if "DISPLAY" not in os.environ:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    images_dir, labels_dir = args.data / "images", args.data / "labels"
    if not images_dir.is_dir():
        print(f"no ISBI images in {images_dir} (use --data)", file=sys.stderr)
        return 1

    import cv2
    import numpy as np
    from PySide6.QtWidgets import QApplication

    from annotator.core.labelmap import LabelMap
    from annotator.core.schema import LabelSchema
    from annotator.core.status import ImageStatus
    from annotator.gui.main_window import MainWindow
    from annotator.storage.project import Project

    app = QApplication.instance() or QApplication(sys.argv[:1])
    tmp = Path(tempfile.mkdtemp(prefix="annotator-shot-"))
    try:
        picked = tmp / "isbi"
        picked.mkdir()
        names = sorted(
            images_dir.glob("*.png"), key=lambda p: int(p.stem) if p.stem.isdigit() else 0
        )[:8]
        for p in names:
            shutil.copy(p, picked / f"isbi_{int(p.stem):02d}.png")
        schema = LabelSchema.from_names(["membrane", "cell", "mitochondrion"]).recoloured(
            0, "#4363d8"
        )
        with Project.create(tmp / "project", schema) as project:
            project.add_images([picked])
            records = project.images()
            first = records[0]
            truth = cv2.imread(str(labels_dir / names[0].name), cv2.IMREAD_GRAYSCALE)
            lm = LabelMap.blank(schema, first.height, first.width)
            if truth is not None:
                gt = np.where(truth > 127, 1, 0).astype(np.uint8)
                # The user has labelled the left part so far, along an irregular front.
                yy, xx = np.mgrid[0 : first.height, 0 : first.width]
                front = 300 + 40 * np.sin(yy / 45.0)
                lm.assign(gt, where=xx < front)
                lm.paint_stroke([(345, 60), (372, 95), (380, 140)], 7, schema.void)
            project.save_mask(first.id, lm.array)
            done = LabelMap.for_schema(schema, cv2.imread(str(labels_dir / names[1].name), 0) > 127)
            project.save_mask(records[1].id, done.array, status=ImageStatus.DONE)
            project.set_setting("gui.last_image", first.id)

        window = MainWindow()
        w, h = (int(v) for v in args.size.split("x"))
        window.resize(w, h)
        window.show()
        window.open_project(tmp / "project")
        window.class_panel.select_index(1)
        window.canvas.set_brush_radius(6)
        for _ in range(5):
            app.processEvents()
        window.canvas.fit_to_window()
        # Put the brush circle on the image, near the labelling front.
        window.canvas._cursor = (420.0, 260.0)
        window.canvas._update_brush_cursor()
        window.canvas.cursor_moved.emit(420, 260)
        for _ in range(5):
            app.processEvents()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(args.out)):
            print(f"could not write {args.out}", file=sys.stderr)
            return 1
        print(f"wrote {args.out}")
        if args.outlines is not None:
            # The labelled part and its front, each region's border over the membranes.
            window.actions_["toggle_outlines"].setChecked(True)
            window.canvas.set_zoom(3.0)
            window.canvas.centerOn(250, 250)
            for _ in range(5):
                app.processEvents()
            if not window.canvas.grab().save(str(args.outlines)):
                print(f"could not write {args.outlines}", file=sys.stderr)
                return 1
            print(f"wrote {args.outlines}")
        window.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
