"""The export dialog asks for nnU-Net's channel names as ``export --channel-names`` does
(nnunet only)."""

from __future__ import annotations

import pytest

from annotator.core.errors import AnnotatorError
from annotator.gui.export_dialog import ExportDialog


def test_the_channel_names_are_the_nnunet_exports_and_reach_the_request(qtbot):
    dialog = ExportDialog(None)
    qtbot.addWidget(dialog)
    dialog.out_edit.setText("/tmp/somewhere")
    dialog.set_format("nnunet")
    assert dialog.channel_names_edit.isEnabled()
    assert dialog.request().channel_names == ()  # empty: the export's own names
    dialog.channel_names_edit.setText("T2, ADC")
    assert dialog.request().channel_names == ("T2", "ADC")
    dialog.channel_names_edit.setText("T2,")
    with pytest.raises(AnnotatorError, match="a name is empty"):
        dialog.request()
    dialog.set_format("masks")  # other formats write no channel names
    assert not dialog.channel_names_edit.isEnabled()
    assert dialog.request().channel_names == ()
