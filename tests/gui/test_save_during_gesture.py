"""A brush held down must not hold up the autosave of the edits committed before it
(audit: gestures committed 11.8 s before a kill were lost to a stroke held for 12 s).
The save during the gesture writes the labels without the gesture's own pixels (an Esc
may still take them back); its commit saves them next."""

from __future__ import annotations

from guihelpers import at, drag
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from annotator.storage.project import Project


def _mask(project_dir, image_id):
    with Project.open(project_dir) as p:
        return p.load_mask(p.image(image_id))


def test_the_autosave_timer_saves_finished_edits_while_the_brush_is_held(
    window, project_dir, qtbot
):
    window.autosave_delay_ms = window.autosave_max_delay_ms = 100
    doc, value = window.document, window.canvas.current_value
    drag(window.canvas, [(10, 10), (30, 10)])  # finished: its commit arms the autosave
    vp, left = window.canvas.viewport(), Qt.MouseButton.LeftButton
    QTest.mousePress(vp, left, Qt.KeyboardModifier.NoModifier, at(window.canvas, 10, 50))
    QTest.mouseMove(vp, at(window.canvas, 30, 50))
    assert doc.in_stroke and doc.label_map.array[50, 20] == value
    qtbot.waitUntil(lambda: not doc.needs_save, timeout=3000)  # the timer, brush held
    window.session.save(wait=True)
    mask = _mask(project_dir, doc.image_id)
    assert mask is not None and mask[10, 20] == value  # the finished stroke is on disk
    assert mask[50, 20] != value  # the stroke in progress is not (Esc may take it back)
    assert doc.in_stroke and doc.label_map.array[50, 20] == value  # painting goes on
    QTest.mouseRelease(vp, left, Qt.KeyboardModifier.NoModifier, at(window.canvas, 30, 50))
    qtbot.waitUntil(lambda: not doc.needs_save, timeout=3000)
    window.session.save(wait=True)
    assert _mask(project_dir, doc.image_id)[50, 20] == value  # saved once committed


def test_a_stroke_taken_back_after_a_save_during_it_leaves_the_saved_labels_right(
    window, project_dir, qtbot
):
    doc, value = window.document, window.canvas.current_value
    drag(window.canvas, [(10, 10), (30, 10)])
    doc.begin_stroke()
    doc.paint_stroke([(10, 60), (30, 60)], 3, value)
    window.save_now()
    window.session.save(wait=True)
    doc.abort_stroke()  # Esc
    assert not doc.needs_save  # what is on disk is what the map holds
    mask = _mask(project_dir, doc.image_id)
    assert mask[10, 20] == value and mask[60, 20] != value
    assert (mask == doc.label_map.array).all()
