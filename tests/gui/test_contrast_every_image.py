"""One contrast window for every image, kept in the project, and CT window presets
(docs/adr/0036): display only, never the pixels, the fill's tolerance or the model."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import tifffile
from niftihelpers import ct_voxels, save_scaled, save_volume
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from annotator.core.schema import LabelSchema
from annotator.gui.main_window import MainWindow
from annotator.storage.project import Project

#: The presets' windows as radiology gives them (width W around level L: L - W/2 to
#: L + W/2): soft tissue W400 L40, lung W1500 L-600, bone W1800 L400, brain W80 L40,
#: liver W150 L30.
#: The project setting that keeps the window for every image.
SETTING = "gui.contrast_for_every_image"
PRESET_WINDOWS = [(-160.0, 240.0), (-1350.0, 150.0), (-500.0, 1300.0), (0.0, 80.0), (-45.0, 105.0)]


def _project(tmp_path, files: dict[str, np.ndarray | None]) -> tuple[Project, dict[str, int]]:
    """A project of the pictures ``files`` (a NIfTI file's value: its voxels; None: a
    CT volume whose header scales its stored values, read as float32), and their ids."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name, pixels in files.items():
        if name.endswith(".nii.gz"):
            if pixels is None:
                save_scaled(
                    folder / name, (ct_voxels((48, 40, 2)) + 1024).astype(np.int16), 1, -1024
                )
            else:
                save_volume(folder / name, pixels)
        elif name.endswith(".tif"):
            tifffile.imwrite(folder / name, pixels, photometric="minisblack")
        else:
            cv2.imwrite(str(folder / name), pixels)
    root = tmp_path / "p"
    with Project.create(root, LabelSchema.from_names(["air", "body"])) as p:
        assert p.add_images([folder]).errors == []
        ids = {r.name: r.id for r in p.images()}
    return root, ids


def _window(qtbot, root) -> MainWindow:
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(900, 700)
    w.show()
    w.open_project(root)
    return w


def _windowed(image: np.ndarray, low: float, high: float) -> np.ndarray:
    """``image`` shown from black at ``low`` to white at ``high``."""
    return np.clip((image.astype(np.float32) - low) * (255.0 / (high - low)), 0, 255).astype(
        np.uint8
    )


def _setting(root):
    with Project.open(root, lock=False) as p:
        return p.get_setting(SETTING)


@pytest.fixture
def ct(tmp_path):
    """A CT scan of three int16 slices and an 8-bit photograph."""
    photo = np.random.default_rng(3).integers(0, 255, (40, 48)).astype(np.uint8)
    return _project(tmp_path, {"ct.nii.gz": ct_voxels((48, 40, 3)), "photo.png": photo})


def test_one_window_for_every_image_follows_the_images_and_the_reopened_project(qtbot, ct):
    root, ids = ct
    w = _window(qtbot, root)
    w.canvas.set_tool("fill")
    w.edges_check.setChecked(True)
    w.open_image(ids["ct_z002.tif"])
    tolerance, pixels = w.tolerance_spin.value(), w.document.image.copy()
    w.open_image(ids["ct_z000.tif"])
    w.show_contrast()
    dialog = w.contrast_dialog
    assert not dialog.shared_check.isChecked() and w.contrast_label.isHidden()
    dialog.shared_check.setChecked(True)
    dialog.low.setValue(-100)
    dialog.high.setValue(300)
    assert w.document.windows == ((-100.0, 300.0),)
    assert w.contrast_label.isVisible() and w.contrast_label.text().endswith("-100 to 300")
    w.open_image(ids["ct_z002.tif"])  # its automatic window was another
    doc = w.document
    assert doc.windows == ((-100.0, 300.0),)
    assert np.array_equal(w.canvas.image_item.array, _windowed(doc.image, -100, 300))
    assert dialog.shared_check.isChecked() and (dialog.low.value(), dialog.high.value()) == (
        -100,
        300,
    )
    # display only: the pixels and the fill's tolerance are those without it
    assert np.array_equal(doc.image, pixels)
    assert w.tolerance_spin.value() == tolerance and w.canvas.fill_tolerance == tolerance
    # a picture of another kind (8-bit) keeps its own, and the dialog says why
    w.open_image(ids["photo.png"])
    assert w.document.windows is None and not dialog.shared_check.isChecked()
    assert "keeps its own" in dialog.shared_note.text() and dialog.shared_note.isVisible()
    w.close()
    # the project keeps it: a window opened on it again shows every slice with it
    w = _window(qtbot, root)
    w.open_image(ids["ct_z001.tif"])
    assert w.document.windows == ((-100.0, 300.0),)
    assert w.contrast_label.text().endswith("-100 to 300")
    w.show_contrast()
    assert w.contrast_dialog.shared_check.isChecked()
    w.close()


def test_unticking_or_automatic_gives_each_image_its_automatic_window_again(qtbot, ct):
    root, ids = ct
    w = _window(qtbot, root)
    w.open_image(ids["ct_z000.tif"])
    w.show_contrast()
    dialog = w.contrast_dialog
    dialog.high.setValue(500)  # this image's own window, given way to the one for all
    dialog.shared_check.setChecked(True)
    dialog.low.setValue(-100)
    w.open_image(ids["ct_z001.tif"])
    assert w.document.windows == ((-100.0, 500.0),)
    dialog.shared_check.setChecked(False)
    doc = w.document
    assert doc.windows is None and w.contrast_label.isHidden()
    assert np.array_equal(w.canvas.image_item.array, _windowed(doc.image, *doc.auto_windows[0]))
    assert (dialog.low.value(), dialog.high.value()) == pytest.approx(doc.auto_windows[0], abs=0.1)
    w.open_image(ids["ct_z000.tif"])
    assert w.document.windows is None
    assert _setting(root) is None
    # Automatic drops it too
    dialog.shared_check.setChecked(True)
    dialog.high.setValue(200)
    assert _setting(root) is not None
    w.open_image(ids["ct_z002.tif"])
    assert w.document.windows is not None
    dialog.auto_button.click()
    assert w.document.windows is None and not dialog.shared_check.isChecked()
    assert w.contrast_label.isHidden() and _setting(root) is None
    w.open_image(ids["ct_z000.tif"])
    assert w.document.windows is None
    w.close()
    w = _window(qtbot, root)
    w.open_image(ids["ct_z001.tif"])
    assert w.document.windows is None
    w.close()


def test_a_change_of_the_channels_shown_drops_the_window_for_every_image(qtbot, tmp_path):
    rng = np.random.default_rng(0)
    four = [
        np.stack([1000 * (c + 1) + rng.integers(0, 50, (32, 32)) for c in range(4)], -1)
        for _ in range(2)
    ]
    root, ids = _project(
        tmp_path, {"a.tif": four[0].astype(np.uint16), "b.tif": four[1].astype(np.uint16)}
    )
    w = _window(qtbot, root)
    w.open_image(ids["a.tif"])
    w.show_contrast()
    dialog = w.contrast_dialog
    dialog.shared_check.setChecked(True)
    dialog.rows[2][2].setValue(5000)  # blue's white
    w.open_image(ids["b.tif"])
    assert w.document.windows is not None and w.document.windows[2][1] == 5000
    w.choose_channels((3,))
    assert w.document.windows is None and w.contrast_label.isHidden()
    assert not dialog.shared_check.isChecked() and dialog.channel_count == 1
    assert _setting(root) is None
    w.choose_channels(())  # back to the first three: not the window of before
    w.open_image(ids["a.tif"])
    assert w.document.windows is None
    w.close()


def test_ct_presets_are_offered_for_a_picture_in_hounsfield_units_only(qtbot, tmp_path):
    rng = np.random.default_rng(1)
    root, ids = _project(
        tmp_path,
        {
            "ct.nii.gz": ct_voxels((48, 40, 2)),  # int16
            "scaled.nii.gz": None,  # float32 Hounsfield units
            "photo.png": rng.integers(0, 255, (40, 48)).astype(np.uint8),
            "deep.png": rng.integers(0, 60000, (40, 48)).astype(np.uint16),
            "signed.tif": rng.integers(-500, 500, (40, 48)).astype(np.int16),  # no air
        },
    )
    w = _window(qtbot, root)
    w.show_contrast()
    dialog = w.contrast_dialog
    offered = {}
    for name in ("ct_z000.tif", "scaled_z001.tif", "photo.png", "deep.png", "signed.tif"):
        w.open_image(ids[name])
        offered[name] = dialog.preset_combo.isVisible() and dialog.presets_offered
    assert offered == {
        "ct_z000.tif": True,
        "scaled_z001.tif": True,
        "photo.png": False,
        "deep.png": False,
        "signed.tif": False,
    }
    w.close()


def test_a_preset_sets_black_and_white_at_level_less_and_plus_half_the_width(qtbot, ct):
    root, ids = ct
    w = _window(qtbot, root)
    w.open_image(ids["ct_z001.tif"])
    w.show_contrast()
    dialog, doc = w.contrast_dialog, w.document
    combo = dialog.preset_combo
    assert combo.count() == len(PRESET_WINDOWS) and combo.currentIndex() == -1
    for index, (low, high) in enumerate(PRESET_WINDOWS):
        combo.setCurrentIndex(index)
        assert doc.windows == ((low, high),)
        assert (dialog.low.value(), dialog.high.value()) == (low, high)
        assert np.array_equal(w.canvas.image_item.array, _windowed(doc.image, low, high))
        assert f"W{int(high - low)} " in combo.currentText()
    dialog.high.setValue(99)  # typed: no preset any more
    assert combo.currentIndex() == -1
    w.close()


def test_the_keyboard_reaches_the_preset_and_every_image_and_both_work_together(qtbot, ct):
    root, ids = ct
    w = _window(qtbot, root)
    w.open_image(ids["ct_z000.tif"])
    w.show_contrast()
    dialog = w.contrast_dialog
    with qtbot.waitActive(dialog):
        dialog.activateWindow()
    dialog.high.setFocus()
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is dialog.preset_combo
    QTest.keyClick(dialog.preset_combo, Qt.Key.Key_Down)  # the first: soft tissue
    assert w.document.windows == ((-160.0, 240.0),)
    QTest.keyClick(dialog.preset_combo, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is dialog.shared_check
    QTest.keyClick(dialog.shared_check, Qt.Key.Key_Space)
    assert dialog.shared_check.isChecked()
    assert w.contrast_label.text() == "Contrast for every image: soft tissue, -160 to 240"
    dialog.preset_combo.setCurrentIndex(1)  # lung, with "every image" ticked: for all
    w.open_image(ids["ct_z002.tif"])
    assert w.document.windows == ((-1350.0, 150.0),)
    assert dialog.preset_combo.currentIndex() == 1
    w.close()


def test_a_damaged_setting_opens_the_project_with_automatic_windows(qtbot, ct):
    from annotator.services.shared_contrast import SHARED_CONTRAST_SETTING

    assert SETTING == SHARED_CONTRAST_SETTING
    root, ids = ct
    with Project.open(root) as p:
        p.set_setting(SETTING, {"windows": [[5, 1]]})
    w = _window(qtbot, root)
    w.open_image(ids["ct_z000.tif"])
    assert w.document.windows is None and w.contrast_label.isHidden()
    w.close()


def test_a_window_for_every_image_the_project_cannot_keep_applies_and_says_so(
    qtbot, ct, monkeypatch
):
    """Another program holds the project's write lock: the GUI does not hang or fail."""
    from annotator.core.errors import ProjectError
    from annotator.gui import main_window

    def locked(*_a, **_k):
        raise ProjectError("the project database is locked by another program")

    monkeypatch.setattr(main_window, "keep_shared_windows", locked)
    root, ids = ct
    w = _window(qtbot, root)
    w.open_image(ids["ct_z000.tif"])
    w.show_contrast()
    w.contrast_dialog.shared_check.setChecked(True)
    w.contrast_dialog.preset_combo.setCurrentIndex(2)  # bone
    said = w.statusBar().currentMessage()
    assert said.startswith("The contrast window for every image could not be kept")
    assert said.endswith("it applies until the project is closed")
    w.open_image(ids["ct_z001.tif"])
    assert w.document.windows == ((-500.0, 1300.0),)
    w.close()


def test_a_window_for_every_ct_picture_leaves_other_deep_grey_pictures_alone(qtbot, tmp_path):
    """Found by a GUI audit: the lung preset set for every image on a CT slice blanked a
    16-bit grey picture of the same project (values 1000-2999 shown through -1350..150:
    every pixel white), since both were grey pictures of more than 8 bits."""
    micro = np.random.default_rng(4).integers(1000, 3000, (40, 48)).astype(np.uint16)
    root, ids = _project(tmp_path, {"ct.nii.gz": ct_voxels((48, 40, 2)), "micro.png": micro})
    w = _window(qtbot, root)
    w.open_image(ids["ct_z000.tif"])
    w.show_contrast()
    dialog = w.contrast_dialog
    dialog.shared_check.setChecked(True)
    dialog.low.setValue(-1350)
    dialog.high.setValue(150)
    w.open_image(ids["micro.png"])
    assert w.document.windows is None  # its own, automatic window
    assert not dialog.shared_check.isChecked()
    assert "CT pictures" in dialog.shared_note.text()
    assert len(np.unique(w.canvas.image_item.array)) > 100  # not one white
    w.open_image(ids["ct_z001.tif"])
    assert w.document.windows == ((-1350.0, 150.0),)
    w.close()
