"""The layering of the guide, as a check: lower layers never import torch or Qt."""

import subprocess
import sys

import pytest

BLOCK = (
    "import sys\n"
    "class Block:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in ('torch', 'PySide6'):\n"
    "            raise ImportError('blocked: ' + name)\n"
    "sys.meta_path.insert(0, Block())\n"
)


@pytest.mark.parametrize(
    "module",
    [
        "annotator",
        "annotator.core.schema",
        "annotator.core.synthetic",
        "annotator.storage.project",
        "annotator.storage.images",
        "annotator.cli",
        "annotator.services",
    ],
)
def test_module_imports_with_torch_and_qt_blocked(module):
    code = BLOCK + f"import {module}\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_block_really_blocks():
    code = BLOCK + "import torch\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0 and "blocked: torch" in result.stderr
