"""A GUI audit's findings on the panels: the IoU chart follows renamed classes, the
stale model after a rename is not logged as a failure, long class lists and image
names stay readable, and the edge-bounded fill on 16-bit pictures."""

from __future__ import annotations

import cv2
import numpy as np
from guihelpers import center
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QStyleOptionViewItem

from annotator.core.card import CardMetrics, ModelCard
from annotator.core.schema import LabelSchema
from annotator.gui.main_window import MainWindow
from annotator.gui.model_panel import iou_series
from annotator.storage.project import Project

NAMES = ("background", "cell", "membrane")


def _card(version: int, names, ious) -> ModelCard:
    return ModelCard(
        version=version,
        architecture={"arch": "fcn", "depth": 2, "width": 4},
        classes=tuple(names),
        metrics=CardMetrics(mean_iou=0.5, iou=dict(zip(names, ious, strict=True)), val_pixels=4096),
    )


def _window(qtbot, root) -> MainWindow:
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(900, 700)
    w.show()
    w.open_project(root)
    center(w.canvas)
    return w


def _chart(window) -> dict[str, tuple[float | None, ...]]:
    return {s.name: s.values for s in window.loop.panel.chart.series}


# --- 1. a renamed class keeps its IoU history ---------------------------------------------------
def test_a_renamed_class_keeps_its_iou_history_under_its_new_name(qtbot, project_dir):
    with Project.open(project_dir) as p:  # two listed versions, none active (no files)
        p.register_model(
            1, None, "models/v1/model.pt", _card(1, NAMES, [0.9, 0.4, None]), replacing=-1
        )
        p.register_model(
            2, 1, "models/v2/model.pt", _card(2, NAMES, [0.95, 0.5, 0.2]), replacing=-1
        )
    window = _window(qtbot, project_dir)
    assert _chart(window)["cell"] == (0.4, 0.5)
    window.class_panel.rename_requested.emit(1, "cell body")
    assert _chart(window) == {
        "background": (0.9, 0.95),
        "cell body": (0.4, 0.5),
        "membrane": (None, 0.2),
    }
    window.class_panel.add_requested.emit("cell", "")  # a new class of the old name
    assert _chart(window)["cell"] == (None, None)
    window.close()
    again = _window(qtbot, project_dir)  # the renames are the project's, not the window's
    assert _chart(again)["cell body"] == (0.4, 0.5) and _chart(again)["cell"] == (None, None)
    again.close()


def test_the_chart_follows_renames_made_after_each_version_only():
    schema = LabelSchema.from_names(["background", "nucleus", "cell"])
    from annotator.core.records import ModelRecord
    from annotator.core.schema import ClassRename

    def record(v, names, ious):
        return ModelRecord(v, None, "2026-01-01T00:00:00", f"m{v}", _card(v, names, ious))

    models = [
        record(1, ["background", "cell"], [0.9, 0.1]),  # cell renamed nucleus after v1
        record(2, ["background", "nucleus", "cell"], [0.9, 0.3, 0.7]),  # a new "cell"
    ]
    renames = [ClassRename("cell", "nucleus", 1)]
    _versions, series = iou_series(models, schema, renames)
    assert {s.name: s.values for s in series} == {
        "background": (0.9, 0.9),
        "nucleus": (0.1, 0.3),
        "cell": (None, 0.7),
    }
    # a class taken out of the project has no series
    _versions, series = iou_series(models, LabelSchema.from_names(["background", "cell"]), renames)
    assert [s.name for s in series] == ["background", "cell"]


def test_the_stale_model_after_a_rename_logs_no_warning(window, qtbot, tmp_path, caplog):
    """The proposals of a version trained for the old names are not asked of the worker
    (whose failures are warnings in the log a bug report attaches): after a rename that
    is the expected state until a round from scratch, said in the status bar."""
    from guihelpers import model_file

    loop = window.loop
    with qtbot.waitSignal(loop.proposal_shown, timeout=30000):
        loop.import_model(model_file(tmp_path / "lab.pt", window.session.schema.names))
    said: list[str] = []
    loop.message.connect(lambda text, _ms: said.append(text))
    caplog.set_level("INFO")
    window._edit_schema("rename_class", 1, "cell body")
    window.go(1)  # the next image asks again
    window._edit_schema("add_class", "debris", None)
    assert loop.service.wait_proposals(30)
    qtbot.wait(50)  # what the worker dispatched
    assert (
        said.count(
            "The classes changed since model v1 was trained: Train from scratch "
            "(Model menu) to use them."
        )
        >= 1
    )
    warned = [r.getMessage() for r in caplog.records if r.levelno >= 30]
    assert warned == []
    assert not loop.service.ranking().busy


# --- 2. long class lists and long image names stay readable -------------------------------------
CAMVID = [
    "sky",
    "road",
    "car",
    "building",
    "pole",
    "pavement",
    "tree",
    "sign",
    "fence",
    "pedestrian",
    "bicyclist",
]


def test_the_iou_legend_shows_every_class_at_the_default_window_size(qtbot, tmp_path):
    """CamVid's 11 classes: the legend used to stop at the chart's bottom ("sign")."""
    images = tmp_path / "imgs"
    images.mkdir()
    cv2.imwrite(str(images / "a.png"), np.full((64, 64), 90, np.uint8))
    root = tmp_path / "camvid"
    with Project.create(root, LabelSchema.from_names(CAMVID)) as p:
        p.add_images([images])
        # IoU never measured: the only pixels of a class's colour are its legend swatch
        card = _card(1, CAMVID, [None] * len(CAMVID))
        p.register_model(1, None, "models/v1/model.pt", card, replacing=-1)
        schema = p.schema
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1280, 820)  # the window's size on a first start
    window.show()
    window.open_project(root)
    chart = window.loop.panel.chart
    qtbot.waitUntil(lambda: len(chart.series) == len(CAMVID))
    qtbot.wait(50)  # the layout follows the chart's new least height
    shot = chart.grab().toImage()
    colours = {
        shot.pixelColor(x, y).rgb() for x in range(shot.width()) for y in range(shot.height())
    }
    missing = [c.name for c in schema.classes if QColor(*c.rgb).rgb() not in colours]
    assert missing == []
    window.close()


def test_an_image_row_elides_the_name_and_keeps_status_and_score_whole(qtbot):
    """A done row used to read "[done] 0..." behind a sideways scroll bar."""
    from annotator.core.records import ImageRecord
    from annotator.core.status import ImageStatus
    from annotator.gui.image_list import ImageListPanel

    def record(i, status, score):
        name = f"train_0001TP_00{6690 + 30 * i}.png"
        return ImageRecord(i, name, name, "", 480, 360, 3, 8, status, "user", 0, score, "", "")

    panel = ImageListPanel()
    qtbot.addWidget(panel)
    panel.resize(270, 400)  # the Images dock's width on a first start
    panel.show()
    panel.set_records(
        [
            record(1, ImageStatus.DONE, 0.7123),
            record(2, ImageStatus.NEW, 0.67),
            record(3, ImageStatus.IN_PROGRESS, None),
        ]
    )
    qtbot.wait(50)
    view = panel.list
    assert not view.horizontalScrollBar().isVisible()
    for row, tail in enumerate(("[done]   0.712", "[new]   0.670", "[in progress]")):
        index = panel.model.index(row)
        option = QStyleOptionViewItem()
        option.initFrom(view)
        option.rect = view.visualRect(index)
        option.widget = view
        view.itemDelegate().initStyleOption(option, index)
        assert option.text.endswith(tail)
        assert option.fontMetrics.horizontalAdvance(option.text) <= view.viewport().width()
        assert option.text.endswith(".png   " + tail)
        assert option.text.startswith("train_0001")  # the name elided in its middle


def test_image_rows_tell_close_scores_apart_as_the_cli_does():
    """On ISBI every row read 0.99 or 1.00 while `annotator suggest` said 0.997, 0.996 and
    0.995: "most uncertain first" could not be read."""
    from annotator.core.records import ImageRecord
    from annotator.core.status import ImageStatus
    from annotator.gui.image_list import row_tail

    def record(i, score):
        return ImageRecord(
            i, f"{i}.png", f"{i}.png", "", 8, 8, 1, 8, ImageStatus.NEW, "user", 0, score, "", ""
        )

    tails = [row_tail(record(i, s)) for i, s in enumerate((0.9971, 0.9962, 0.9954))]
    assert [t.split()[-1] for t in tails] == ["0.997", "0.996", "0.995"]  # f"{s:.3f}", as suggest


# --- 3. the edge-bounded fill on a 16-bit picture -----------------------------------------------
def test_the_fill_tolerance_follows_a_16_bit_images_range(qtbot, tmp_path):
    """30 grey levels set on an 8-bit image filled 1 pixel of a 16-bit EM picture (values
    1000..4000): the tolerance is carried over as the same share of the image's range."""
    from guihelpers import SIZE, click

    folder = tmp_path / "imgs"
    folder.mkdir()
    eight = np.full((SIZE, SIZE), 40, np.uint8)
    eight[20:40, 20:40] = 200
    cv2.imwrite(str(folder / "a8.png"), eight)
    rng = np.random.default_rng(0)
    deep = (1000 + rng.integers(-100, 101, (SIZE, SIZE))).astype(np.uint16)  # noisy
    deep[20:40, 20:40] = 4000
    cv2.imwrite(str(folder / "b16.png"), deep)
    root = tmp_path / "proj"
    with Project.create(root, LabelSchema.from_names(list(NAMES))) as p:
        p.add_images([folder])
        ids = {r.name: r.id for r in p.images()}
    window = _window(qtbot, root)
    window.open_image(ids["a8.png"])
    window.canvas.set_tool("fill")
    window.edges_check.setChecked(True)
    window.tolerance_spin.setValue(30)
    window.open_image(ids["b16.png"])
    center(window.canvas)
    lo, hi = np.percentile(deep, (0.5, 99.5))  # the simulated annotator's rule
    scale = (hi - lo) / 255
    assert window.tolerance_spin.value() == round(30 * scale)
    assert window.canvas.fill_tolerance == round(30 * scale)
    click(window.canvas, 5, 5)  # the noisy background, not the square
    lab = window.document.label_map.array
    assert (lab == 0).sum() == SIZE * SIZE - 400 and (lab[20:40, 20:40] != 0).all()
    window.tolerance_spin.setValue(0)  # too small for the noise: the fill says so
    window.canvas.set_current_value(1)
    click(window.canvas, 5, 5)
    assert (window.document.label_map.array == 1).sum() <= 4
    said = window.statusBar().currentMessage()
    assert said.startswith("Fill to edges changed only a few pixels")
    assert "(0)" in said and "span 900 to 4000" in said
    window.tolerance_spin.setValue(600)  # the user's value, in this image's units
    window.open_image(ids["a8.png"])
    assert window.tolerance_spin.value() == round(600 / scale, 2)
    window.close()


def test_a_rename_while_the_worker_scores_an_image_logs_no_warning(
    window, qtbot, tmp_path, caplog, monkeypatch
):
    """The worker stops before the rename is stored: a request that ran into the renamed
    classes before the loop heard of them (the window still drawing the class panel)
    failed, a warning in the log, whenever the worker was between two images then."""
    import threading

    from guihelpers import model_file

    from annotator.services.proposals import ProposalWorker

    loop = window.loop
    shown = window.document.image_id
    reached, release = threading.Event(), threading.Event()
    real_proposal_for = ProposalWorker._proposal_for

    def gated(worker, image_id, version, *args, **kwargs):
        if image_id != shown:  # the ranking's first image waits
            reached.set()
            release.wait(10)
        return real_proposal_for(worker, image_id, version, *args, **kwargs)

    monkeypatch.setattr(ProposalWorker, "_proposal_for", gated)
    with qtbot.waitSignal(loop.proposal_shown, timeout=30000):
        loop.import_model(model_file(tmp_path / "lab.pt", window.session.schema.names))
    assert reached.wait(30)
    real_show = window.show_schema

    def show_schema(schema):  # the rename is stored: the worker goes on before the loop hears
        release.set()
        assert loop.service.wait_proposals(30)
        real_show(schema)

    monkeypatch.setattr(window, "show_schema", show_schema)
    caplog.set_level("INFO")
    window._edit_schema("rename_class", 1, "cell body")
    monkeypatch.setattr(window, "show_schema", real_show)
    assert loop.service.wait_proposals(30)
    qtbot.wait(50)  # what the worker dispatched
    assert [r.getMessage() for r in caplog.records if r.levelno >= 30] == []
    assert loop.stale_version() is not None and not loop.proposes()
