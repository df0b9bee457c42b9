"""``annotator demo --images N`` takes 1 to 1000 images and refuses the rest with the
usage (exit code 2), before it generates anything."""

import sys

import pytest

from annotator.cli import main
from annotator.core.errors import ProjectError
from annotator.services import demo


@pytest.fixture
def no_generation(monkeypatch):
    """Generating an image is a failure here: the count must be refused before."""

    def generate(**kwargs):
        raise RuntimeError("an image was generated")

    monkeypatch.setattr(demo, "synthetic_cells", generate)


@pytest.mark.parametrize("images", ["1001", "1000000000", "0", "-5"])
def test_demo_image_counts_out_of_range_are_one_line(tmp_path, capsys, no_generation, images):
    folder = tmp_path / "demo"
    with pytest.raises(SystemExit) as exit_:  # wrong by itself: the usage, exit code 2
        main(["demo", str(folder), "--images", images])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: annotator demo ")
    assert err.endswith(
        f"annotator demo: error: argument --images: {images!r} is not a whole number from 1 "
        "to 1000\n"
    )
    assert not folder.exists()


def test_demo_service_refuses_too_many_images(tmp_path, no_generation):
    with pytest.raises(ProjectError, match="between 1 and 1000"):
        demo.create_demo_project(tmp_path / "demo", n_images=demo.MAX_DEMO_IMAGES + 1)
    assert not (tmp_path / "demo").exists()


def test_demo_of_one_image_is_still_made(tmp_path, monkeypatch):
    made = []
    real = demo.synthetic_cells

    def counted(**kwargs):
        made.append(kwargs["seed"])
        return real(**{**kwargs, "size": 16})

    monkeypatch.setattr(demo, "synthetic_cells", counted)
    assert main(["demo", str(tmp_path / "one"), "--images", "1"]) == 0
    assert len(made) == 1


def test_demo_on_an_existing_project_says_it_opened_it_as_it_is(tmp_path, capsys):
    folder = tmp_path / "demo"
    assert main(["demo", str(folder), "--images", "2"]) == 0
    assert capsys.readouterr().out == f"demo project ready: {folder}\n"
    assert main(["demo", str(folder), "--images", "5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"opened the existing project {folder}: 2 image(s)")
    assert out.rstrip().endswith("(--images 5 not applied: they apply only to a new demo project)")
    assert main(["demo", str(folder), "--images", "20", "--labelled", "5"]) == 0
    out = capsys.readouterr().out
    assert out == (
        f"opened the existing project {folder}: 2 image(s) (--images 20 and --labelled 5 "
        "not applied: they apply only to a new demo project)\n"
    )


def test_a_demo_cut_short_leaves_nothing_the_next_demo_would_take_as_finished(
    tmp_path, monkeypatch
):
    from annotator.storage.project import Project

    real, made = Project.add_image_bytes, []

    def killed_after_two(self, *args, **kwargs):
        if len(made) == 2:
            raise KeyboardInterrupt  # Ctrl+C, or a kill, during the third image
        made.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Project, "add_image_bytes", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        demo.create_demo_project(tmp_path / "demo", n_images=4)
    assert not (tmp_path / "demo").exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no staging folder left either
    monkeypatch.undo()
    demo.create_demo_project(tmp_path / "demo", n_images=4)
    with Project.open(tmp_path / "demo") as project:
        assert len(project.images()) == 4


def test_a_project_creation_cut_short_can_be_created_again(tmp_path, monkeypatch):
    import annotator.storage.project as project_module
    from annotator.core.schema import LabelSchema
    from annotator.storage.project import Project

    def killed(*_args):
        raise KeyboardInterrupt  # the database is whole, not yet in its place

    monkeypatch.setattr(project_module.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        Project.create(tmp_path / "p", LabelSchema.from_names(["a", "b"]))
    monkeypatch.undo()
    with pytest.raises(ProjectError, match="no such|not an Annotator project"):
        Project.open(tmp_path / "p")  # no half project: nothing to open
    with Project.create(tmp_path / "p", LabelSchema.from_names(["a", "b"])) as project:
        assert list(project.schema.names) == ["a", "b"]


@pytest.mark.parametrize("target", ["empty", "link", "cwd"])
def test_a_demo_into_an_empty_folder_that_exists_fills_it_in_place(
    tmp_path, monkeypatch, capsys, target
):
    """The demo was built beside the folder and renamed over it: a symlink to an empty
    folder was refused ("Not a directory"), a mount point raised EBUSY, and `demo .`
    left the shell in a deleted folder."""
    from annotator.cli import main
    from annotator.storage.project import Project

    folder = tmp_path / "empty"
    folder.mkdir()
    inode = folder.stat().st_ino
    given = {"empty": folder, "link": tmp_path / "link", "cwd": "."}[target]
    if target == "link":
        (tmp_path / "link").symlink_to(folder)
    if target == "cwd":
        monkeypatch.chdir(folder)
    assert main(["demo", str(given), "--images", "2", "--labelled", "1"]) == 0
    assert folder.stat().st_ino == inode  # the same folder, filled: not replaced
    assert not [p for p in folder.iterdir() if "staging" in p.name]
    with Project.open(folder) as project:
        assert len(project.images()) == 2
    if target == "link":
        assert (tmp_path / "link").is_symlink()


def test_a_demo_cut_short_in_an_existing_folder_leaves_it_empty(tmp_path, monkeypatch):
    from annotator.storage.project import Project

    folder = tmp_path / "demo"
    folder.mkdir()

    def killed(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Project, "add_image_bytes", killed)
    with pytest.raises(KeyboardInterrupt):
        demo.create_demo_project(folder, n_images=2)
    assert list(folder.iterdir()) == []
    monkeypatch.undo()
    demo.create_demo_project(folder, n_images=2)
    with Project.open(folder) as project:
        assert len(project.images()) == 2


def test_two_demos_racing_on_one_new_folder_the_second_says_it_exists(
    tmp_path, monkeypatch, capsys
):
    folder = tmp_path / "DD"
    real = demo.synthetic_cells

    def other_demo_finishes_first(**kwargs):
        if not folder.exists():  # the other demo renames its whole project into place
            folder.mkdir()
            (folder / "annotator.sqlite").write_bytes(b"the other demo's")
        return real(**{**kwargs, "size": 16})

    monkeypatch.setattr(demo, "synthetic_cells", other_demo_finishes_first)
    assert main(["demo", str(folder), "--images", "2"]) == 1
    err = capsys.readouterr().err
    assert err == f"annotator: error: {folder}: already exists and is not an empty folder\n"
    assert (folder / "annotator.sqlite").read_bytes() == b"the other demo's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["DD"]  # no staging folder left


@pytest.mark.parametrize(
    ("args", "n"), [(["--labelled", "9"], 8), (["--images", "2", "--labelled", "3"], 2)]
)
def test_more_labelled_than_images_is_a_usage_error(tmp_path, capsys, args, n):
    """It was exit 1, the error of what only a project can refuse; no project exists yet."""
    folder = tmp_path / "D"
    assert main(["demo", str(folder), *args]) == 2
    err = capsys.readouterr().err
    assert f"--labelled {args[-1]}: more than the {n} images made" in err
    assert "annotator demo --help" in err and not folder.exists()


@pytest.mark.skipif(sys.platform == "win32", reason="kills itself with os._exit")
def test_a_demo_killed_while_moving_into_an_existing_folder_can_be_made_again(tmp_path):
    """Killed after the first entries were moved up (the database moves last), the
    folder held images/ and a hidden staging folder: neither a project nor empty, every
    later demo there refused it ("already exists and is not an empty folder")."""
    import os
    import subprocess
    import textwrap

    from annotator.storage.project import Project

    folder = tmp_path / "demo"
    folder.mkdir()
    code = textwrap.dedent(
        f"""
        import os
        from annotator.services import demo
        from annotator.storage import project
        real, moves = os.replace, []
        def replace(src, dst):
            if ".staging-" in str(src) and os.path.dirname(dst) == {str(folder)!r}:
                moves.append(src)
                if len(moves) == 3:
                    os._exit(9)  # no clean-up: as a kill
            return real(src, dst)
        project.os.replace = replace
        demo.create_demo_project(demo.Path({str(folder)!r}), n_images=2)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    assert subprocess.run([sys.executable, "-c", code], env=env, check=False).returncode == 9
    left = sorted(p.name for p in folder.iterdir())
    assert any(n.startswith(".staging-") for n in left) and len(left) >= 3, left
    demo.create_demo_project(folder, n_images=2)
    with Project.open(folder) as project:
        assert len(project.images()) == 2
    assert not [p for p in folder.iterdir() if "staging" in p.name]


def test_a_left_staging_folder_never_takes_the_users_own_files(tmp_path):
    """A staging folder left whole (a creation killed before its moves) beside the user's
    own models/: the demo took that folder for one it had moved and deleted it."""
    import shutil

    from annotator.storage.project import Project

    made = tmp_path / "made"
    demo.create_demo_project(made, n_images=2)
    folder = tmp_path / "EH"
    shutil.copytree(made, folder / ".staging-4242")
    (folder / "models").mkdir()
    (folder / "models" / "best.pt").write_text("mine")
    with pytest.raises(ProjectError, match="not an empty folder"):
        demo.create_demo_project(folder, n_images=2)
    assert (folder / "models" / "best.pt").read_text() == "mine"
    with pytest.raises(ProjectError):
        Project.open(folder)
