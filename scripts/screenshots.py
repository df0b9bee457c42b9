"""Render the user guide's screenshots from the real app, so they never go stale.

    python scripts/screenshots.py [--out docs/images] [--readme] [--data DIR]

Creates a throw-away demo project (``annotator demo``'s recipe), opens the real
``MainWindow`` offscreen and drives it the way a user does: picks each tool through its
action, then presses, drags and releases the mouse on the canvas (real Qt mouse events,
so the tools, the overlay and the status bar do what they do for a user). Writes:

* ``guide-main-window.png``   the window on the demo project
* ``guide-brush.png``         a cell painted with the brush (the brush circle on the image)
* ``guide-eraser.png``        part of it erased again
* ``guide-fill.png``          the background filled with the fill tool
* ``guide-polygon.png``       a polygon being clicked around a nucleus
* ``guide-lasso.png``         a lasso outline being dragged around a cell
* ``guide-protected.png``     a wide brush with "only unlabelled" sweeping past a labelled cell
* ``guide-superpixel.png``    the superpixel brush painting whole superpixels
* ``guide-grabcut.png``       a GrabCut box around a cell and the cell it found
* ``guide-cleanup.png``       holes and specks of a class removed in one gesture
* ``guide-classes.png``       the class panel

``--readme`` also renders the README's pictures with ``scripts/screenshot.py``
(``main-window.png``, and the guide's ``guide-outlines.png``: labels as outlines on an
electron micrograph) and ``scripts/screenshot_loop.py`` (``proposal.png``,
``uncertainty.png``, ``model-panel.png``; it trains a model, minutes of CPU), from the
ISBI 2012 images in ``--data``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SIZE = (1240, 780)


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    parser.add_argument("--readme", action="store_true", help="also the README's pictures")
    parser.add_argument(
        "--data",
        type=Path,
        default=REPO.parent / "shared" / "data" / "isbi2012-membrane",
        help="ISBI 2012 folder for --readme",
    )
    return parser.parse_args(argv)


class Driver:
    """Drives the real window: actions by name, mouse gestures in image pixels."""

    def __init__(self, window, app) -> None:  # type: ignore[no-untyped-def]
        self.window = window
        self.app = app

    def settle(self, rounds: int = 6) -> None:
        for _ in range(rounds):
            self.app.processEvents()

    def trigger(self, action: str) -> None:
        self.window.actions_[action].trigger()
        self.settle()

    def _view_pos(self, x: float, y: float):  # type: ignore[no-untyped-def]
        from PySide6.QtCore import QPointF

        return QPointF(self.window.canvas.mapFromScene(QPointF(x + 0.5, y + 0.5)))

    def mouse(self, kind: str, x: float, y: float, held: bool = True) -> None:
        """One mouse event on the canvas at image pixel (x, y)."""
        from PySide6.QtCore import QEvent, Qt
        from PySide6.QtGui import QMouseEvent

        viewport = self.window.canvas.viewport()
        pos = self._view_pos(x, y)
        kinds = {
            "press": QEvent.Type.MouseButtonPress,
            "move": QEvent.Type.MouseMove,
            "release": QEvent.Type.MouseButtonRelease,
            "double": QEvent.Type.MouseButtonDblClick,
        }
        left = Qt.MouseButton.LeftButton
        button = Qt.MouseButton.NoButton if kind == "move" else left
        buttons = left if (held and kind != "release") else Qt.MouseButton.NoButton
        global_pos = viewport.mapToGlobal(pos.toPoint()).toPointF()
        event = QMouseEvent(
            kinds[kind], pos, global_pos, button, buttons, Qt.KeyboardModifier.NoModifier
        )
        self.app.sendEvent(viewport, event)

    def drag(self, points: list[tuple[float, float]], release: bool = True) -> None:
        self.mouse("press", *points[0])
        for p in points[1:]:
            self.mouse("move", *p)
        if release:
            self.mouse("release", *points[-1])
        self.settle()

    def click(self, x: float, y: float) -> None:
        self.mouse("press", x, y)
        self.mouse("release", x, y)
        self.settle()

    def hover(self, x: float, y: float) -> None:
        self.mouse("move", x, y, held=False)
        self.settle()

    def save(self, widget, path: Path) -> None:  # type: ignore[no-untyped-def]
        self.settle()
        if not widget.grab().save(str(path)):
            raise SystemExit(f"could not write {path}")
        print(f"wrote {path}")


def _shapes(recipe: dict):  # type: ignore[no-untyped-def]
    """Outlines of single, whole cells of the demo's first image, biggest first, each
    with the outline of its nucleus (from the generator's exact truth)."""
    import cv2
    import numpy as np

    from annotator.core.synthetic import synthetic_cells

    gen = recipe["generator"]
    _, truth = synthetic_cells(
        seed=int(recipe["images"]["first_seed"]),
        size=int(gen["size"]),
        n_cells=int(gen["cells_per_image"]),
        noise=float(gen["noise"]),
    )

    def outlines(mask: np.ndarray) -> list[np.ndarray]:
        found, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        return [c.reshape(-1, 2) for c in found]

    nuclei = outlines(truth == 2)
    cells = []
    for cell in outlines(truth >= 1):
        area = cv2.contourArea(cell)
        hull = cv2.contourArea(cv2.convexHull(cell))
        inside = [
            n for n in nuclei if cv2.pointPolygonTest(cell, tuple(map(float, n.mean(0))), False) > 0
        ]
        if hull and area / hull > 0.97 and len(inside) == 1:  # one cell, not touching ones
            cells.append((area, cell, inside[0]))
    cells.sort(key=lambda t: -t[0])
    return truth, [(c, n) for _, c, n in cells]


def _untouched(cells, label_map):  # type: ignore[no-untyped-def]
    """The first cell outline none of whose pixels carries a label yet."""
    import cv2
    import numpy as np

    for cell, _ in cells:
        inside = np.zeros(label_map.shape, np.uint8)
        cv2.drawContours(inside, [cell.reshape(-1, 1, 2)], -1, 1, thickness=-1)
        if (label_map.array[inside.astype(bool)] == label_map.unlabelled).all():
            return cell
    raise SystemExit("no cell of the demo's first image is still unlabelled for GrabCut")


def _every(points, n: int) -> list[tuple[float, float]]:  # type: ignore[no-untyped-def]
    step = max(1, len(points) // n)
    return [(float(x), float(y)) for x, y in points[::step]]


def _ring(outline, centre, scale: float) -> list[tuple[float, float]]:  # type: ignore[no-untyped-def]
    pts = [
        (
            float(centre[0] + (p[0] - centre[0]) * scale),
            float(centre[1] + (p[1] - centre[1]) * scale),
        )
        for p in outline[::4]
    ]
    return pts + [pts[0]]


def render_guide(out: Path) -> None:
    from PySide6.QtWidgets import QApplication

    from annotator.gui.main_window import MainWindow
    from annotator.services.demo import create_demo_project, demo_recipe

    app = QApplication.instance() or QApplication(sys.argv[:1])
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="annotator-guide-"))
    try:
        recipe = demo_recipe()
        project = create_demo_project(tmp / "demo", n_images=6)
        truth, cells = _shapes(recipe)
        if len(cells) < 3:
            raise SystemExit("the demo recipe's first image has fewer than 3 separate cells")
        window = MainWindow()
        window.resize(*SIZE)
        window.show()
        window.open_project(project)
        d = Driver(window, app)
        d.settle(10)
        window.canvas.fit_to_window()
        d.save(window, out / "guide-main-window.png")
        canvas = window.canvas

        # Brush: paint the class "cell" into a cell, in rings from its outline inwards.
        (cell_a, _), (cell_b, nucleus_b), (cell_c, _) = cells[:3]
        window.class_panel.select_index(1)
        d.trigger("tool_brush")
        canvas.set_brush_radius(5)
        centre = cell_a.mean(axis=0)
        for scale in (0.8, 0.55, 0.3):
            d.drag(_ring(cell_a, centre, scale))
        d.click(float(centre[0]), float(centre[1]))
        d.hover(float(cell_a[:, 0].max()) + 10, float(centre[1]))
        d.save(window, out / "guide-brush.png")

        # Protected painting: "only unlabelled", a wide brush sweeps across the labelled
        # cell_a and the background; the cell's labels stay as they are.
        assert window.session is not None
        window.protection.setCurrentIndex(
            window.protection.findData(window.session.schema.unlabelled)
        )
        window.class_panel.select_index(0)
        d.trigger("tool_brush")
        canvas.set_brush_radius(25)
        top = float(cell_a[:, 1].min()) - 30
        left, right = float(cell_a[:, 0].min()) - 4, float(cell_a[:, 0].max()) + 4
        d.drag([(left - 40, top), (right + 40, top), (right + 40, float(centre[1]) + 10)])
        d.hover(right + 40, float(centre[1]) + 10)
        d.save(window, out / "guide-protected.png")
        window.protection.setCurrentIndex(0)
        window.class_panel.select_index(1)
        canvas.set_brush_radius(5)

        # Eraser: a stripe through the painted cell goes back to unlabelled.
        d.trigger("tool_eraser")
        left, right = float(cell_a[:, 0].min()) - 4, float(cell_a[:, 0].max()) + 4
        d.drag([(left, float(centre[1])), (right, float(centre[1]))])
        d.hover(right, float(centre[1]))
        d.save(window, out / "guide-eraser.png")

        # Fill: the background, one click; "stops at edges" keeps it out of the cells.
        window.class_panel.select_index(0)
        window.edges_check.setChecked(True)
        d.trigger("tool_fill")
        ys, xs = (truth == 0).nonzero()
        d.click(float(xs[len(xs) // 2]), float(ys[len(ys) // 2]))
        d.save(window, out / "guide-fill.png")

        # Polygon: clicking around a nucleus, not closed yet (the preview shows).
        window.class_panel.select_index(2)
        d.trigger("tool_polygon")
        vertices = _every(nucleus_b, 10)
        for x, y in vertices[:-2]:
            d.click(x, y)
        d.hover(*vertices[-2])
        d.save(window, out / "guide-polygon.png")
        canvas.tool.cancel(canvas)  # as Esc would

        # Lasso: dragging around another cell, button still held (the outline shows).
        window.class_panel.select_index(1)
        d.trigger("tool_lasso")
        outline = _every(cell_c, 60)
        d.drag(outline, release=False)
        d.save(window, out / "guide-lasso.png")
        d.mouse("release", *outline[-1])
        d.settle()

        # Superpixel brush: computed in the background on first use, then whole segments.
        smart = canvas.smart
        assert smart is not None
        window.class_panel.select_index(1)
        d.trigger("tool_superpixel")
        canvas.set_brush_radius(3)
        cx, cy = (float(v) for v in cell_b.mean(axis=0))
        d.click(cx, cy)  # starts computing the superpixels
        smart.wait_idle(120)
        d.settle(10)
        d.drag([(cx - 8, cy), (cx + 8, cy)])
        d.save(window, out / "guide-superpixel.png")

        # GrabCut: a box around a cell; the cell it finds gets the current class.
        assert window.document is not None
        cell_d = _untouched(cells[3:], window.document.label_map)
        window.class_panel.select_index(1)
        d.trigger("tool_grabcut")
        x0, y0 = (float(v) - 8 for v in cell_d.min(axis=0))
        x1, y1 = (float(v) + 8 for v in cell_d.max(axis=0))
        d.drag([(x0, y0), (x1, y1)])
        smart.wait_idle(120)
        d.settle(10)
        d.save(window, out / "guide-grabcut.png")

        # Clean up: the whole image, current class (Shift+K).
        window.cleanup_spin.setValue(200)
        d.trigger("cleanup_image")
        d.save(window, out / "guide-cleanup.png")

        d.save(window.class_panel, out / "guide-classes.png")

        window.close()
        window.deleteLater()
        d.settle()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def render_readme(out: Path, data: Path) -> int:
    sys.path.insert(0, str(REPO / "scripts"))
    import screenshot
    import screenshot_loop

    code = screenshot.main(
        [
            "--data",
            str(data),
            "--out",
            str(out / "main-window.png"),
            "--outlines",
            str(out / "guide-outlines.png"),
        ]
    )
    return code or screenshot_loop.main(["--data", str(data), "--out", str(out)])


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    if "DISPLAY" not in os.environ:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    render_guide(args.out)
    if args.readme:
        return render_readme(args.out, args.data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
