"""The window's loop does not read the active model version from the database.

Enabling the actions, Accept's reason, whether the image gets a proposal: the loop asked
the project for the active version at each of them, a database read on the window's
thread. While a training round's thread held the project's database (a transaction
on the same connection, or a long read), the window waited for it: up to 0.8 s at
5,000 images. The model service holds the active version's record instead, changed by
what changes it in this process (a round's end, a rollback, an import, a class change);
no other process can change it while the window holds the project's write lock
(tests/reliability/test_two_processes.py: ``models --rollback`` is refused meanwhile).
"""

from __future__ import annotations

import threading
import time

import pytest
from guihelpers import loop_on, model_file

from annotator.core.schema import LabelSchema
from annotator.gui.model_panel import classes_changed_text
from annotator.services import versions
from annotator.services.model_service import ModelSettings
from annotator.storage.project import Project

#: How long the other thread holds the database: the old reads waited all of it.
HOLD_S = 4.0


@pytest.fixture
def setup(qtbot, project_dir, tmp_path):
    project = Project.open(project_dir)
    for name in ("a.pt", "b.pt"):  # v1 and v2 (active), without training
        versions.import_model(project, model_file(tmp_path / name, project.schema.names))
    loop, ws, actions = loop_on(qtbot, project)
    session = ws.session
    loop.settings_override = ModelSettings(device="cpu", threads=1, train_on_done=False)
    loop.set_project(project)
    loop.image_opened(session.open_image(session.images()[0].id))
    yield loop, project, actions
    loop.close()
    session.close()
    project.close()


def _while_held(project: Project, gui_work) -> float:
    """Run ``gui_work`` here while another thread holds a write transaction of the
    project's own database (as a round's thread does when it publishes): seconds taken."""
    holding, done = threading.Event(), threading.Event()

    def hold() -> None:
        with project._db.transaction():
            holding.set()
            done.wait(HOLD_S)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        began = time.monotonic()
        gui_work()
        return time.monotonic() - began
    finally:
        done.set()
        holder.join(10)


def test_the_loops_checks_do_not_wait_for_a_busy_database(setup):
    loop, project, actions = setup
    answers = {}

    def checks() -> None:
        loop.update_enabled()
        answers["proposes"] = loop.proposes()
        answers["stale"] = loop.stale_version()
        answers["why"] = loop._no_accept_why()
        answers["export"] = actions["export_model"].isEnabled()

    took = _while_held(project, checks)
    assert took < HOLD_S / 2, f"the window's thread waited {took:.1f} s for the database"
    assert answers == {
        "proposes": True,
        "stale": None,
        "why": "The proposal of this image is not ready yet.",
        "export": True,
    }


def test_what_the_loop_holds_follows_every_change_of_the_active_version(setup, qtbot, tmp_path):
    loop, project, actions = setup

    def shown() -> int | None:
        held = loop.service.active_record
        return None if held is None else held.version

    assert shown() == project.active_model().version == 2
    assert "Model v2" in loop.panel.version_label.text()
    loop.rollback(1)
    assert shown() == project.active_model().version == 1
    assert "Model v1" in loop.panel.version_label.text()
    with qtbot.waitSignal(loop.version_changed):
        loop.import_model(model_file(tmp_path / "c.pt", project.schema.names))
    assert shown() == project.active_model().version == 3
    assert "Model v3" in loop.panel.version_label.text()
    # a class renamed: the version no longer fits, said without a database read
    renamed = LabelSchema.from_names(["ground", *project.schema.names[1:]])
    project.set_schema(renamed)
    loop.schema_changed(renamed)
    assert loop.stale_version() is not None and loop.stale_version().version == 3
    assert not loop.proposes()
    assert loop._no_accept_why() == classes_changed_text(3)


def test_an_import_that_failed_after_recording_its_version_is_still_shown(
    setup, qtbot, tmp_path, monkeypatch
):
    """Whatever recorded a version and then failed: the loop reads the project again."""
    loop, project, actions = setup
    real = versions.import_model

    def recorded_then_failed(p, path, **kwargs):
        real(p, path, **kwargs)
        raise OSError("disk trouble after the record")

    monkeypatch.setattr(versions, "import_model", recorded_then_failed)
    with qtbot.waitSignal(loop.error):
        loop.import_model(model_file(tmp_path / "c.pt", project.schema.names))
    assert project.active_model().version == 3
    assert loop.service.active_record.version == loop.service.active_version == 3
    assert "Model v3" in loop.panel.version_label.text()
