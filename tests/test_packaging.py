"""Packaging: the resources are complete and found, and the sdist and wheel install.

The slow test builds an sdist from this checkout, a wheel from that sdist (as pip does),
installs the wheel with ``--no-deps`` into a fresh venv that borrows the dev venv's
packages, and runs the installed ``annotator`` from outside the source tree.
"""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from annotator import __version__
from annotator.resources import icon_names, read_json, resource_path, resources_dir

REPO = Path(__file__).resolve().parents[1]
TOOL_ICONS = ("brush", "eraser", "fill", "polygon", "lasso", "pan")
ACTION_ICONS = (
    "undo",
    "redo",
    "accept",
    "propose",
    "train",
    "next",
    "image-previous",
    "image-next",
)


def test_every_tool_and_main_action_has_an_svg_icon():
    names = set(icon_names())
    missing = [n for n in (*TOOL_ICONS, *ACTION_ICONS) if n not in names]
    assert not missing, f"icons missing: {missing}"
    for name in names:
        text = resource_path("icons", f"{name}.svg").read_text(encoding="utf-8")
        assert text.lstrip().startswith("<svg") and 'viewBox="0 0 24 24"' in text, name


def test_palette_resource_is_the_schema_default_colours():
    from annotator.core.schema import PALETTE, LabelSchema, more_colours

    colours = read_json("palette.json")["colors"]
    assert tuple(colours) == PALETTE
    schema = LabelSchema.from_names([f"c{i}" for i in range(len(colours) + 1)])
    # past the palette, a colour of its own rather than the first one again
    assert [c.color for c in schema.classes] == [*colours, more_colours()[0]]
    assert more_colours()[0] not in colours


def test_demo_project_follows_the_recipe(tmp_path):
    from annotator.services.demo import create_demo_project
    from annotator.storage.project import Project

    recipe = read_json("demo-recipe.json")
    folder = create_demo_project(tmp_path / "demo", n_images=2)
    with Project.open(folder) as project:
        assert [(c.name, c.color) for c in project.schema.classes] == [
            (c["name"], c["color"]) for c in recipe["classes"]
        ]
        records = project.images()
        size = recipe["generator"]["size"]
        assert [r.name for r in records] == [
            recipe["images"]["file_name"].format(index=i) for i in range(2)
        ]
        assert all((r.width, r.height) == (size, size) for r in records)


def test_desktop_entry_names_the_command_and_icon():
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive in desktop files
    parser.read(resource_path("annotator.desktop"), encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] == "annotator"
    assert entry["Icon"] == "annotator"
    assert (resources_dir() / "annotator.png").is_file()


def test_app_icon_png_is_256_pixels():
    from PIL import Image

    with Image.open(resource_path("annotator.png")) as im:
        assert im.size == (256, 256) and im.mode == "RGBA"


@pytest.mark.gui
def test_icon_helper_renders_every_icon_and_refuses_unknown_names(qapp):
    from annotator.gui.icons import icon
    from annotator.resources import ResourceError

    for name in icon_names():
        image = icon(name).pixmap(24, 24).toImage()
        opaque = sum(image.pixelColor(x, y).alpha() > 0 for x in range(24) for y in range(24))
        assert opaque > 10, f"{name} renders (almost) nothing"
    with pytest.raises(ResourceError):
        icon("no-such-icon")


@pytest.mark.gui
def test_tool_actions_carry_their_icons(qapp):
    from PySide6.QtWidgets import QWidget

    from annotator.gui.actions import make_actions

    parent = QWidget()
    actions = make_actions(parent)
    for tool in ("brush", "eraser", "fill", "polygon", "lasso"):
        assert not actions[f"tool_{tool}"].icon().isNull(), tool
    assert not actions["train_now"].icon().isNull()


# --- the wheel ---------------------------------------------------------------------------


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _site_packages(python: str) -> str:
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip()


@pytest.mark.slow
def test_sdist_and_wheel_build_and_the_installed_wheel_runs(tmp_path):
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    # 1. The sdist, from this checkout (no build isolation: we are offline).
    dist = tmp_path / "dist"
    code = (
        f"import sys; from setuptools import build_meta as b; print(b.build_sdist({str(dist)!r}))"
    )
    sdist = dist / _run([sys.executable, "-c", code], REPO, clean).strip().splitlines()[-1]
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
        assert any(n.endswith("resources/palette.json") for n in names)
        assert any(n.endswith("resources/icons/brush.svg") for n in names)
        tar.extractall(tmp_path / "src", filter="data")
    (unpacked,) = (tmp_path / "src").iterdir()

    # 2. The wheel, from the unpacked sdist.
    pip = [sys.executable, "-m", "pip"]
    _run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(unpacked)],
        tmp_path,
        clean,
    )
    (wheel,) = dist.glob("annotator-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        assert "annotator/_resources/icons/brush.svg" in zf.namelist()

    # 3. A fresh venv that sees the dev venv's packages (torch, Qt, ...) through a .pth,
    #    with the wheel installed into it (not editable, no dependencies fetched).
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, clean)
    vpy = str(venv / "bin" / "python")
    Path(_site_packages(vpy), "dev-venv.pth").write_text(_site_packages(sys.executable) + "\n")
    _run([*pip, "--python", vpy, "install", "--no-deps", "--no-index", str(wheel)], tmp_path, clean)

    # 4. Run it from a folder outside the source tree.
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    exe = str(venv / "bin" / "annotator")
    assert "usage: annotator" in _run([exe, "--help"], outside, clean)
    assert _run([exe, "--version"], outside, clean).strip() == f"annotator {__version__}"
    probe = (
        "import json, annotator, annotator.resources as r, annotator.core.schema as s; "
        "print(json.dumps([annotator.__file__, r.resources_origin(), str(r.resources_dir()), "
        "len(s.PALETTE)]))"
    )
    module_file, origin, folder, n_colours = json.loads(_run([vpy, "-c", probe], outside, clean))
    assert Path(module_file).is_relative_to(venv), module_file
    assert origin == "installed" and Path(folder).is_relative_to(venv), folder
    assert n_colours == len(read_json("palette.json")["colors"])
    _run([exe, "demo", str(tmp_path / "demo"), "--images", "1"], outside, clean)


def test_demo_labelled_images_carry_the_generators_exact_labels(tmp_path):
    from annotator.core.status import ImageStatus
    from annotator.core.synthetic import synthetic_cells
    from annotator.services.demo import create_demo_project
    from annotator.storage.project import Project

    recipe = read_json("demo-recipe.json")
    gen = recipe["generator"]
    folder = create_demo_project(tmp_path / "demo", n_images=3, labelled=2)
    with Project.open(folder) as project:
        records = project.images()
        assert [r.status for r in records] == [ImageStatus.DONE] * 2 + [ImageStatus.NEW]
        _, truth = synthetic_cells(
            seed=recipe["images"]["first_seed"] + 1,
            size=gen["size"],
            n_cells=gen["cells_per_image"],
            noise=gen["noise"],
        )
        assert (project.load_mask(records[1]) == truth).all()
        assert project.load_mask(records[2]) is None


@pytest.mark.gui
@pytest.mark.slow
def test_screenshot_script_renders_every_guide_picture_from_the_real_app(qapp, tmp_path):
    import importlib.util

    from PIL import Image, ImageChops

    spec = importlib.util.spec_from_file_location("screenshots", REPO / "scripts/screenshots.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.render_guide(tmp_path)
    names = ["main-window", "brush", "eraser", "fill", "polygon", "lasso", "classes"]
    for name in names:
        assert (tmp_path / f"guide-{name}.png").stat().st_size > 1000, name
    # Each tool left its mark: consecutive pictures differ.
    shots = [Image.open(tmp_path / f"guide-{n}.png").convert("RGB") for n in names[:6]]
    for before, after, name in zip(shots, shots[1:], names[1:]):
        assert ImageChops.difference(before, after).getbbox() is not None, name


@pytest.mark.gui
def test_gui_saves_a_screenshot_after_the_first_paint_and_quits(tmp_path):
    from PIL import Image

    from annotator.services.demo import create_demo_project

    project = create_demo_project(tmp_path / "demo", n_images=1)
    shot = tmp_path / "shot.png"
    config = tmp_path / "config"
    ini = config / "annotator" / "annotator.ini"
    ini.parent.mkdir(parents=True)
    users = "[recent]\nlast_open=/the/users/project\n"
    ini.write_text(users)
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONPATH": str(REPO),
        "XDG_CONFIG_HOME": str(config),
    }
    cmd = [sys.executable, "-m", "annotator", "gui", str(project), "--screenshot", str(shot)]
    result = subprocess.run(
        [*cmd, "--quit-after-paint"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    seconds = float(result.stdout.split("first paint ")[1].split(" s")[0])
    assert 0 < seconds < 120
    with Image.open(shot) as im:
        assert im.size[0] > 600 and im.size[1] > 400
        grey = im.convert("L")
        assert len(grey.getcolors(65536) or []) > 20  # a painted window, not a blank
    # a script's run left what the user's next start reopens alone (it rewrote the last
    # project, the recent list and the window's size)
    assert ini.read_text() == users


def _imported_modules() -> set[str]:
    """Every module the package imports by name, at the top of a file or inside a
    function (where the costly ones are imported)."""
    import ast

    found: set[str] = set()
    for f in (REPO / "annotator").rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module)
    return {m for m in found if not m.startswith("annotator")}


#: Excluded modules the app imports only where it copes without them (a plot).
OPTIONAL = {"matplotlib"}


def test_the_frozen_app_leaves_out_no_module_the_app_imports(tmp_path):
    """The PyInstaller spec left out scipy and scikit-image, which the superpixel brush
    imports (SLIC): the packaged app's brush failed on its first use."""
    sys.path.insert(0, str(REPO / "packaging"))
    try:
        from common import EXCLUDES
    finally:
        sys.path.pop(0)
    modules = sorted(m for m in _imported_modules() if m.split(".")[0] not in OPTIONAL)
    probe = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}:\n"
        "    try:\n"
        "        importlib.import_module(m)\n"
        "    except ImportError:\n"
        "        pass\n"  # (a platform's own module: winreg, fcntl...)
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    left_out = [m for m in EXCLUDES if m.split(".")[0] not in OPTIONAL and (m in loaded)]
    assert left_out == [], f"the app imports {left_out}, which the frozen app leaves out"


def test_the_linux_install_quotes_the_program_in_the_menu_entry(tmp_path):
    """A home with a space (``/home/Jane Doe``) made an ``Exec=`` line that desktops
    refuse: the desktop entry spec wants such an argument in double quotes."""
    import re
    import shutil

    app = tmp_path / "frozen"
    res = app / "_internal/annotator/_resources"
    res.mkdir(parents=True)
    (app / "annotator").write_text("#!/bin/sh\n")
    (app / "annotator").chmod(0o755)
    for name in ("annotator.desktop", "annotator.png", "annotator.svg"):
        shutil.copy(resources_dir() / name, res / name)
    prefix = tmp_path / 'Jane "J" Doe$'
    env = {**os.environ, "PREFIX": str(prefix)}
    script = REPO / "packaging/linux/install.sh"
    run = subprocess.run(["bash", str(script), str(app)], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    entry = (prefix / "share/applications/annotator.desktop").read_text(encoding="utf-8")
    lines = dict(line.split("=", 1) for line in entry.splitlines() if "=" in line)
    program = prefix / "opt/annotator/annotator"
    assert lines["TryExec"] == str(program)
    # the spec's quoting: in double quotes, each of \\ " ` $ after a backslash
    quoted, rest = re.fullmatch(r'"((?:[^"\\]|\\.)*)" (.*)', lines["Exec"]).groups()
    assert re.sub(r"\\(.)", r"\1", quoted) == str(program) and rest == "gui %f"
    missing = subprocess.run(
        ["bash", str(script), str(tmp_path / "none")], env=env, capture_output=True, text=True
    )
    assert missing.returncode == 1 and "install: no frozen app in" in missing.stderr
    # the copy make package puts in the frozen folder installs that folder
    shutil.copy(script, app / "install.sh")
    shutil.rmtree(prefix)
    run = subprocess.run(["bash", str(app / "install.sh")], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert (prefix / "opt/annotator/annotator").is_file()
    # run again from the installed copy: it writes the entries, and removes nothing
    installed = prefix / "opt/annotator"
    run = subprocess.run(
        ["bash", str(installed / "install.sh")], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert (installed / "annotator").is_file() and (installed / "install.sh").is_file()
