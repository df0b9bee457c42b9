"""Proposal and uncertainty layers, and the model panel's chart data."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from annotator.core.card import ModelCard
from annotator.core.records import ModelRecord
from annotator.core.schema import LabelSchema
from annotator.gui.model_panel import ModelPanel, iou_series
from annotator.gui.proposal_layers import (
    HATCH_PERIOD,
    TRANSPARENT,
    heat_table,
    proposal_codes,
    proposal_table,
    uncertainty_codes,
)

SCHEMA = LabelSchema.from_names(["background", "cell"])


def test_proposal_codes_outline_region_borders_and_hatch_the_inside():
    mask = np.zeros((24, 24), np.uint8)
    mask[:, 12:] = 1
    codes = proposal_codes(mask, 2)
    assert (codes[:, 11] == 0).all() and (codes[:, 12] == 1).all()  # outlines, both sides
    inside = codes[:, :10]
    hatched = inside != TRANSPARENT
    assert (inside[hatched] == 2 + 0).all()  # hatch code of class 0
    assert 0 < hatched.mean() < 0.5  # stripes, not a solid fill like the labels
    assert hatched[0, 0] and not hatched[0, HATCH_PERIOD // 2]


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (7, 1), (2, 3), (13, 29), (40, 33)])
@pytest.mark.parametrize("n_classes", [3, 127, 128])
def test_proposal_codes_follow_their_definition_pixel_by_pixel(shape, n_classes):
    """The codes are made without boolean indexing (3x faster): the same codes."""
    from annotator.gui.proposal_layers import HATCH_WIDTH

    mask = np.random.default_rng(sum(shape)).integers(0, 3, shape).astype(np.uint8)
    h, w = shape
    want = np.full(shape, TRANSPARENT, np.uint8)
    for y in range(h):
        for x in range(w):
            v = mask[y, x]
            near = [
                mask[j, i]
                for j, i in ((y, x - 1), (y, x + 1), (y - 1, x), (y + 1, x))
                if 0 <= j < h and 0 <= i < w
            ]
            if any(n != v for n in near):
                want[y, x] = v
            elif 2 * n_classes <= 254 and (y + x) % HATCH_PERIOD < HATCH_WIDTH:
                want[y, x] = v + n_classes
    np.testing.assert_array_equal(proposal_codes(mask, n_classes), want)


def test_proposal_table_is_transparent_for_hidden_classes_and_unused_codes():
    table = proposal_table(SCHEMA, hidden=frozenset({1}))
    assert table[0] >> 24 > table[2] >> 24 > 0  # outline more opaque than hatching
    assert table[1] == 0 and table[3] == 0 and table[TRANSPARENT] == 0


def test_heat_map_is_transparent_where_the_model_is_sure():
    table = heat_table()
    codes = uncertainty_codes(np.array([[0.0, 0.5, 1.0]], np.float32))
    alphas = [int(table[c]) >> 24 for c in codes[0]]
    assert alphas[0] == 0 and 0 < alphas[1] < alphas[2]


def test_model_panel_plots_iou_per_class_over_versions(qtbot):
    def record(v, ious):
        card = ModelCard.from_json(
            {
                "version": v,
                "architecture": {"depth": 2, "width": 4},
                "classes": SCHEMA.names,
                "metrics": {"iou": dict(zip(SCHEMA.names, ious)), "mean_iou": 0.5},
                "training": {"device": "cpu", "steps": 10},
            }
        )
        return ModelRecord(v, v - 1 or None, "2026-01-01T00:00:00", f"m{v}", card)

    models = [record(1, [0.5, None]), record(2, [0.6, 0.7])]
    versions, series = iou_series(models, SCHEMA)
    assert versions == [1, 2]
    assert [s.values for s in series] == [(0.5, 0.6), (None, 0.7)]
    panel = ModelPanel()
    qtbot.addWidget(panel)
    panel.set_models(models, models[1], SCHEMA)
    assert "v2" in panel.version_label.text() and panel.version_combo.count() == 2
    assert panel.rollback_button.isEnabled()
    with qtbot.waitSignal(panel.rollback_requested) as asked:
        panel.version_combo.setCurrentIndex(1)  # newest first: index 1 is v1
        panel.rollback_button.click()
    assert asked.args == [1]
    assert not panel.grab().isNull()  # the chart paints without error
    # after a rollback the list shows the active version (it showed the newest, v2)
    panel.set_models(models, models[0], SCHEMA)
    assert panel.version_combo.currentData() == 1
    panel.set_models(models, models[1], SCHEMA, stored={2})  # v1's files were pruned
    assert panel.version_combo.itemText(1).endswith("(files removed)")
    assert not panel.version_combo.model().item(1).isEnabled()
    assert panel.version_combo.model().item(0).isEnabled()


def test_the_proposal_shows_where_accept_would_write_after_every_edit(qtbot):
    """The layer's drawn codes are the proposal's where the label is the target and
    transparent elsewhere, box by box as edits land: on 8- and 16-bit label maps (the
    update runs in OpenCV, into the layer's array)."""
    from annotator.core.labelmap import LabelMap
    from annotator.core.proposal import Proposal
    from annotator.core.records import ImageRecord
    from annotator.core.status import ImageStatus
    from annotator.gui.proposal_layers import ProposalLayers
    from annotator.services.document import Document

    rng = np.random.default_rng(2)
    for schema in (SCHEMA, LabelSchema.from_names([f"k{i}" for i in range(300)])):
        u = schema.unlabelled
        labels = np.full((40, 50), u, schema.dtype)
        labels[:, :20] = 1
        record = ImageRecord(
            1, "a", "a.png", "", 50, 40, 1, 8, ImageStatus.NEW, "user", 0, None, "", ""
        )
        doc = Document(record, np.zeros((40, 50), np.uint8), LabelMap(labels, u, schema.void))
        mask = rng.integers(0, 2, (40, 50)).astype(np.uint8)
        layers = ProposalLayers()
        layers.show(doc, Proposal(None, mask, np.zeros((40, 50), np.float32), 0.5, 1), schema)
        codes = proposal_codes(mask, len(schema))
        for target in (u, 1, None):
            layers.set_target(target)
            doc.paint_stroke([(25, 5), (45, 30)], 4, 0)  # a stroke over the unlabelled part
            doc.fill(5, 5, 0 if target != 0 else 1)  # and a fill of the class-1 half
            doc.undo()  # the fill taken back: its box is drawn again
            shown = layers.proposal_item.labels
            lab = doc.label_map.array
            want = codes if target is None else np.where(lab == target, codes, TRANSPARENT)
            assert np.array_equal(shown, want), (schema.dtype, target)


def test_an_edit_of_one_pixel_updates_the_drawn_proposal(qtbot):
    """A fill of a lone pixel (a speck cleaned up) changes a box of 1 x 1: OpenCV took
    its scalar for an array of another type and raised, an error box in the app."""
    from annotator.core.labelmap import LabelMap
    from annotator.core.proposal import Proposal
    from annotator.core.records import ImageRecord
    from annotator.core.status import ImageStatus
    from annotator.gui.proposal_layers import ProposalLayers
    from annotator.services.document import Document

    for schema in (SCHEMA, LabelSchema.from_names([f"k{i}" for i in range(300)])):
        u = schema.unlabelled
        labels = np.full((12, 9), u, schema.dtype)
        labels[4, 3] = 1  # a speck of class 1 in the unlabelled pixels
        record = ImageRecord(
            1, "a", "a.png", "", 9, 12, 1, 8, ImageStatus.NEW, "user", 0, None, "", ""
        )
        doc = Document(record, np.zeros((12, 9), np.uint8), LabelMap(labels, u, schema.void))
        mask = np.ones((12, 9), np.uint8)
        layers = ProposalLayers()
        layers.show(doc, Proposal(None, mask, np.zeros((12, 9), np.float32), 0.5, 1), schema)
        layers.set_target(u)
        codes = proposal_codes(mask, len(schema))
        for edit in (partial(doc.fill, 3, 4, 0), doc.undo, doc.redo):  # (x, y)
            box = edit()
            assert box is None or (box.y1 - box.y0, box.x1 - box.x0) == (1, 1)
            want = np.where(doc.label_map.array == u, codes, TRANSPARENT)
            assert np.array_equal(layers.proposal_item.labels, want), schema.dtype
