"""What the PyInstaller specs of every platform share: the app, its resources, and
what to leave out. Imported by ``annotator.spec`` (and the Windows and macOS specs).

Size is dominated by torch's CPU library (libtorch_cpu, about 400 MB) which cannot be
cut; the excludes below remove what Annotator never imports (tests, other GUIs, Qt
modules and plugins for QML, web, multimedia, 3D) and torch's headers and test helpers.
"""

from __future__ import annotations

from pathlib import Path

# Packages whose modules are imported by name at run time, which analysis cannot see:
# the CLI's command modules, and imagecodecs' codecs (tifffile asks it for LZW, zstd...
# by name; without them the frozen app refused every compressed TIFF).
HIDDEN_PACKAGES = ("annotator", "imagecodecs")

# Python modules never used by the app (some are optional imports of torch or Pillow).
EXCLUDES = [
    "tkinter",
    "_tkinter",
    "matplotlib",
    "IPython",
    "jupyter_client",
    "notebook",
    "pytest",
    "_pytest",
    "pytestqt",
    "hypothesis",
    "mypy",
    "ruff",
    "pandas",
    "sklearn",
    "tensorboard",
    "torch.utils.tensorboard",
    "torchvision",
    "importlinter",
    "grimp",
    "PyInstaller",
    # Qt modules the widgets app does not use
    "PySide6.QtQml",
    "PySide6.QtQuick",
    "PySide6.QtQuickWidgets",
    "PySide6.QtQuickControls2",
    "PySide6.QtQuickTest",
    "PySide6.QtNetwork",
    "PySide6.QtOpenGL",
    "PySide6.QtOpenGLWidgets",
    "PySide6.QtDesigner",
    "PySide6.QtHelp",
    "PySide6.QtSql",
    "PySide6.QtTest",
    "PySide6.QtUiTools",
    "PySide6.QtXml",
    "PySide6.QtConcurrent",
    "PySide6.QtDBus",
    "PySide6.QtPrintSupport",
    "PySide6.QtLabsStyleKit",
    "PySide6.QtQmlFeatures",
]

# Collected files (destination paths) dropped after the analysis.
DROP_PREFIXES = (
    "PySide6/Qt/translations/",  # the app is English only
    "PySide6/Qt/qml/",
    "PySide6/Qt/plugins/qmltooling/",
    "PySide6/Qt/plugins/egldeviceintegrations/",
    "PySide6/Qt/plugins/networkinformation/",
    "PySide6/Qt/plugins/tls/",
    "PySide6/Qt/plugins/sqldrivers/",
    "PySide6/Qt/plugins/designer/",
    "PySide6/Qt/plugins/platforms/libqvnc",
    "PySide6/Qt/plugins/platforms/libqlinuxfb",
    "PySide6/Qt/plugins/platforms/libqminimalegl",
    "PySide6/Qt/plugins/platforms/libqeglfs",
    "PySide6/Qt/plugins/platforms/libqvkkhrdisplay",
    "torch/include/",
    "torch/test/",  # libtorch's C++ test programs
    "torch/bin/protoc",
    "torch/bin/test_",
    "torch/bin/FileStoreTest",
    "torch/bin/HashStoreTest",
    "torch/bin/TCPStoreTest",
    "torch/lib/libtorchbind_test",
    "torch/lib/libaoti_custom_ops",
    "PySide6/Qt/plugins/generic/",  # evdev input for framebuffer devices
    # The GTK platform theme pulls the build machine's GTK stack into the bundle; the
    # desktop's own GTK must be used or none (Qt falls back to its Fusion look).
    "PySide6/Qt/plugins/platformthemes/libqgtk3",
    "torch/share/cmake/",
    "torch/utils/benchmark/",
    "onnx/backend/test/",
)
DROP_PARTS = ("/tests/", "/test/")  # packages' own test suites (numpy, shapely, ...)
# Libraries only the GTK theme plugin needs (top-level files of the bundle).
DROP_LIBRARIES = ("libatk-", "libatk-bridge", "libcairo", "libgdk_pixbuf", "libpango", "libgtk")


def keep(dest: str) -> bool:
    """Whether a collected file (by its path inside the app) stays in the bundle."""
    dest = dest.replace("\\", "/")
    if dest.startswith(DROP_PREFIXES) or ("/" not in dest and dest.startswith(DROP_LIBRARIES)):
        return False
    # torch/testing (and torch.testing._internal, which torch.utils.checkpoint imports at
    # start-up) must stay; only the test suites of packages go.
    return not any(part in dest and not dest.startswith("torch/") for part in DROP_PARTS)


def datas(repo: Path) -> list[tuple[str, str]]:
    """The top-level resources/ folder, as annotator/_resources (ADR 0010)."""
    return [(str(repo / "resources"), "annotator/_resources")]


def filtered(toc: list) -> list:
    """A PyInstaller TOC without the entries :func:`keep` drops."""
    return [entry for entry in toc if keep(entry[0])]
