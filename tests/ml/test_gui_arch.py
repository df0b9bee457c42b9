"""The GUI's "Train from scratch" asks for an architecture from the registry."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

pytestmark = pytest.mark.gui


def test_ask_architecture_offers_the_registry_and_returns_the_chosen_name(monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    from annotator.gui.model_panel import ask_architecture
    from annotator.ml.networks import DEFAULT_ARCH, architecture_names

    seen = {}

    def fake_get_item(parent, title, label, items, current, editable):
        seen.update(items=items, current=current)
        return items[3], True

    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(fake_get_item))
    assert ask_architecture(None) == architecture_names()[3]
    names = [i.split(":")[0].removesuffix(" (recommended)") for i in seen["items"]]
    assert names == architecture_names()
    assert seen["items"][seen["current"]].startswith(f"{DEFAULT_ARCH} (recommended):")
    assert sum("(recommended)" in item for item in seen["items"]) == 1
    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(lambda *a: ("", False)))
    assert ask_architecture(None, current="gcn") is None


def test_a_version_in_the_list_says_when_it_was_made_and_how_good_it_is():
    from types import SimpleNamespace

    from annotator.core.card import CardMetrics
    from annotator.gui.model_panel import version_text

    made = SimpleNamespace(version=3, created_at="2026-11-30T11:01:22", card=None)
    made.card = SimpleNamespace(metrics=CardMetrics(mean_iou=0.7912))
    text = version_text(made)
    assert text.startswith("v3  30 Nov ") and text.endswith("mIoU 0.79")
    made.card.metrics = CardMetrics()
    assert "mIoU" not in version_text(made)
