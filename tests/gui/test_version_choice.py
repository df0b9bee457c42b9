"""The model panel's version choices: "Keep v2" (a newer version scores lower) is kept in the
project, and choosing a newer version in the list says it switched, not rolled back."""

from __future__ import annotations

from guihelpers import shown_window

from annotator.core.card import CardMetrics, CardTraining, ModelCard
from annotator.ml.checkpoint import checkpoint_bytes
from annotator.ml.networks import NetworkConfig, build_network
from annotator.storage.models import publish_version
from annotator.storage.project import Project

NAMES = ("background", "cell", "membrane")


def _publish_a_lower_newer_version(root) -> None:
    config = NetworkConfig(in_channels=1, n_classes=len(NAMES), depth=2, width=4)
    weights = build_network(config).state_dict()
    with Project.open(root) as p:
        for version, iou, parent in ((1, 0.86, None), (2, 0.70, 1)):
            card = ModelCard(
                version=version,
                architecture=config.to_dict(),
                classes=NAMES,
                parent=parent,
                metrics=CardMetrics(mean_iou=iou, iou=dict.fromkeys(NAMES, iou), val_pixels=5000),
                training=CardTraining(device="cpu", steps=10),
            )
            publish_version(p, card, checkpoint_bytes(weights, card))


def test_keep_is_remembered_when_the_project_is_opened_again(qtbot, project_dir):
    _publish_a_lower_newer_version(project_dir)
    w = shown_window(qtbot, project_dir)
    panel = w.loop.panel
    assert panel.drop_box.isVisible() and panel.drop_keep_button.text() == "Keep v2"
    panel.drop_keep_button.click()
    assert not panel.drop_box.isVisible()
    w.close()
    w = shown_window(qtbot, project_dir)
    try:
        assert not w.loop.panel.drop_box.isVisible()  # was said again at every opening
    finally:
        w.close()


def test_an_unkept_drop_is_said_again_at_the_next_opening(qtbot, project_dir):
    _publish_a_lower_newer_version(project_dir)
    w = shown_window(qtbot, project_dir)
    assert w.loop.panel.drop_box.isVisible()
    w.close()
    w = shown_window(qtbot, project_dir)
    try:
        assert w.loop.panel.drop_box.isVisible()
    finally:
        w.close()


def test_choosing_a_newer_version_says_switched_not_rolled_back(qtbot, project_dir):
    _publish_a_lower_newer_version(project_dir)
    w = shown_window(qtbot, project_dir)
    try:
        w.loop.rollback(1)
        assert w.statusBar().currentMessage() == "Rolled back to model v1"
        assert w.loop.panel.round_label.text().startswith("Rolled back to model v1")
        w.loop.rollback(2)  # v2 chosen in the versions list: newer than the active v1
        assert w.statusBar().currentMessage() == "Switched to model v2"
        assert w.loop.panel.round_label.text().startswith("Switched to model v2")
    finally:
        w.close()
