"""Build hook: copy the top-level ``resources/`` into the package as ``annotator/_resources``.

Everything else about the build is in pyproject.toml. setuptools' package data can only
name files inside a package, and the resources live at the top of the tree (ADR 0010),
so ``build_py`` copies them into the build; ``annotator.resources`` finds them there once
installed. MANIFEST.in puts them into the sdist, so a wheel built from it has them too.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildPyWithResources(build_py):
    def run(self) -> None:
        super().run()
        source = HERE / "resources"
        if not (source / "palette.json").is_file():
            raise SystemExit(f"{source}: the resources folder is missing or incomplete")
        target = Path(self.build_lib) / "annotator" / "_resources"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)


setup(cmdclass={"build_py": BuildPyWithResources})
