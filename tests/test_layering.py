"""The layering of ADR 0001, as checks that can fail.

* `lint-imports` checks the import-linter contracts in pyproject.toml (every layer rule:
  the direction of imports, only ml imports torch, only gui imports Qt, core needs only
  numpy/opencv/shapely, front ends reach storage through services).
* Import-time cost: every module outside ``ml`` and ``gui`` imports with torch and Qt
  blocked, so `annotator --help`, exports and the store never pay for them. Contracts see
  imports inside functions too; this check sees what actually runs at import time.
"""

import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import annotator

ROOT = Path(annotator.__file__).resolve().parent.parent

BLOCK = (
    "import sys\n"
    "class Block:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in ('torch', 'PySide6', 'onnxruntime'):\n"
    "            raise ImportError('blocked: ' + name)\n"
    "sys.meta_path.insert(0, Block())\n"
)

LIGHT_LAYERS = ("core", "storage", "formats", "services", "bench", "cli")


def _modules(layer: str) -> list[str]:
    package = ROOT / "annotator" / layer
    names = [f"annotator.{layer}"]
    names += [f"annotator.{layer}.{m.name}" for m in pkgutil.iter_modules([str(package)])]
    return names


LIGHT_MODULES = [m for layer in LIGHT_LAYERS for m in _modules(layer)]


def test_import_contracts_hold():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe is not None, "import-linter is part of the dev extra"
    result = subprocess.run([exe], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-4000:]


def test_every_light_module_imports_with_torch_and_qt_blocked():
    code = BLOCK + f"import importlib\nfor name in {LIGHT_MODULES!r}:\n"
    code += "    importlib.import_module(name)\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-4000:]
    assert len(LIGHT_MODULES) > 40  # the walk found the package, not an empty folder


@pytest.mark.parametrize("blocked", ["torch", "PySide6"])
def test_the_block_really_blocks(blocked):
    result = subprocess.run(
        [sys.executable, "-c", BLOCK + f"import {blocked}\n"], capture_output=True, text=True
    )
    assert result.returncode != 0 and f"blocked: {blocked}" in result.stderr
