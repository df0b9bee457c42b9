"""``annotator suggest``: the images to label next, ranked as the GUI's N ranks them."""

from __future__ import annotations

import json

import pytest
from conftest import FAST, TINY, make_cells_project

from annotator.cli import main
from annotator.core.status import ImageStatus
from annotator.services import proposals, training
from annotator.services.suggestions import suggest_images


@pytest.fixture
def project(tmp_path):
    # 8 images, the first 3 done: 5 to label
    project = make_cells_project(tmp_path / "project", n_images=8, n_labelled=3, size=64)
    yield project
    project.close()


def _train(project, steps=3):
    training.train_project(project, steps=steps, network=TINY, config=FAST, device="cpu")


def test_the_active_model_scores_what_it_has_not_and_ranks_most_unsure_first(project):
    _train(project)
    first = suggest_images(project, None, "uncertainty", device="cpu")
    assert (first.active_version, first.candidates, first.scored_now) == (1, 5, 5)
    scores = [i.score for i in first.images]
    assert len(scores) == 5 and scores == sorted(scores, reverse=True)
    assert {i.version for i in first.images} == {1}
    assert all(i.status == "new" for i in first.images)
    # the same order as the ranking the GUI's N reads (the scores the project holds)
    assert [i.name for i in first.images] == [r.name for r in proposals.rank_next(project)]
    again = suggest_images(project, 2, "uncertainty", device="cpu")
    assert again.scored_now == 0  # its stored proposals' scores are read
    assert [i.name for i in again.images] == [i.name for i in first.images[:2]]
    assert [i.score for i in again.images] == pytest.approx(scores[:2])


def test_after_a_new_version_stored_only_ranks_by_the_older_scores_and_says_so(project):
    _train(project)
    suggest_images(project, None, "uncertainty", device="cpu")
    _train(project, steps=1)  # version 2: it has scored nothing
    stored = suggest_images(project, None, "uncertainty", score_missing=False)
    assert stored.active_version == 2 and stored.scored_now == 0
    assert {i.version for i in stored.images} == {1} and stored.stale() == 5
    fresh = suggest_images(project, None, "uncertainty", device="cpu")
    assert fresh.scored_now == 5 and fresh.stale() == 0
    assert {i.version for i in fresh.images} == {2}
    # another order lists the same scores with the version that made them (it said none)
    in_order = suggest_images(project, None, "in-order")
    assert {i.version for i in in_order.images} == {2}
    assert all(i.score is not None for i in in_order.images)


def test_without_a_model_or_with_another_strategy_nothing_is_scored(project):
    plain = suggest_images(project, 3, "uncertainty")
    assert plain.active_version is None and plain.scored_now == 0
    assert [i.name for i in plain.images] == ["cells_3.png", "cells_4.png", "cells_5.png"]
    _train(project)
    in_order = suggest_images(project, 2, "in-order")
    assert in_order.scored_now == 0 and in_order.stale() == 0
    assert [i.name for i in in_order.images] == ["cells_3.png", "cells_4.png"]


def test_done_images_are_never_suggested(project):
    for record in project.images()[3:]:
        project.set_status(record.id, ImageStatus.DONE)
    found = suggest_images(project, 10, "uncertainty")
    assert found.candidates == 0 and found.images == []


@pytest.mark.slow
def test_cli_suggest_prints_the_ranking_and_json(project, capsys):
    root = str(project.root)
    assert main(["suggest", root, "-n", "2"]) == 0
    out = capsys.readouterr().out
    assert "2 of 5 image(s) to label" in out and "no model yet" in out
    _train(project)
    assert main(["suggest", root, "-n", "3", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "uncertainty of model v1, 5 scored now" in out and "best first" in out
    for strategy, said in (("in-order", "in the order added"), ("random", "in random order")):
        assert main(["suggest", root, "-n", "1", "--strategy", strategy]) == 0
        head = capsys.readouterr().out.splitlines()[0]  # (it said "in-order order", "best")
        assert head.endswith(f"next first ({said}):"), head
    assert main(["suggest", root, "-n", "3", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    lines = [line.split() for line in out.splitlines()[1:]]
    assert [line[0] for line in lines] == ["1", "2", "3"]
    assert [float(line[3]) for line in lines] == sorted((float(x[3]) for x in lines), reverse=True)
    assert main(["suggest", root, "--all", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["active_version"] == 1 and data["scored_now"] == 0
    assert [i["name"] for i in data["images"]][:3] == [line[1] for line in lines]
    _train(project, steps=1)
    assert main(["suggest", root, "--stored-only"]) == 0
    out = capsys.readouterr().out
    assert "(v1)" in out and "5 of them rank by an older model's score" in out
    for record in project.images():
        project.set_status(record.id, ImageStatus.DONE)
    assert main(["suggest", root]) == 0
    assert "every image is done" in capsys.readouterr().out


def test_cli_suggest_refuses_zero_and_json_names_what_it_skipped(project, capsys, tmp_path):
    root = str(project.root)
    with pytest.raises(SystemExit) as exit_:
        main(["suggest", root, "-n", "0"])
    assert exit_.value.code == 2 and "1 or more" in capsys.readouterr().err
    _train(project)
    gone = project.images()[4]
    project.image_path(gone).rename(tmp_path / "moved.png")
    assert main(["suggest", root, "--json", "--device", "cpu"]) == 2
    data = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in data["skipped"]] == [gone.name]
    assert gone.name not in [i["name"] for i in data["images"]]  # nothing to label there
    assert main(["suggest", root, "--device", "cpu"]) == 2
    assert "1 image(s) could not be read and are not listed" in capsys.readouterr().out
    assert main(["suggest", root, "--stored-only", "--all"]) == 0
    assert "1 of them have no score of any model yet" in capsys.readouterr().out


def test_cli_suggest_when_no_image_left_to_label_can_be_read_says_so(project, capsys, tmp_path):
    _train(project)
    for record in project.images():
        if record.status != ImageStatus.DONE:
            project.image_path(record).rename(tmp_path / record.name)
    assert main(["suggest", str(project.root), "--device", "cpu"]) == 2
    out, err = capsys.readouterr()
    assert "none of the 5 image(s) left to label could be read: nothing to suggest" in err
    assert err.count("skipped ") == 5 and "internal error" not in err


def test_json_says_the_order_used_and_each_image_s_id_and_path(project, capsys):
    """Without a model, --json said "strategy": "uncertainty" while the order was the
    order added; the entries had no id or path for a script to open the picture."""
    root = str(project.root)
    assert main(["suggest", root, "-n", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["strategy"], data["ordered_by"]) == ("uncertainty", "added")
    records = {r.name: r for r in project.images()}
    for item in data["images"]:
        record = records[item["name"]]
        assert item["id"] == record.id
        assert item["path"] == str(project.image_path(record)) and item["missing"] is False
    for strategy, order in (("in-order", "added"), ("random", "random")):
        assert main(["suggest", root, "-n", "1", "--json", "--strategy", strategy]) == 0
        assert json.loads(capsys.readouterr().out)["ordered_by"] == order
    _train(project)
    assert main(["suggest", root, "-n", "1", "--json", "--device", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out)["ordered_by"] == "uncertainty"


def test_an_image_whose_picture_was_moved_away_is_marked_missing(project, capsys, tmp_path):
    """Ranked from its stored score, it was listed like any other, exit 0: a script sent
    it to be labelled."""
    root = str(project.root)
    _train(project)
    assert main(["suggest", root, "--all", "--device", "cpu"]) == 0  # every score stored
    capsys.readouterr()
    gone = project.images()[4]
    project.image_path(gone).rename(tmp_path / "moved.png")
    assert main(["suggest", root, "--all", "--json", "--device", "cpu"]) == 0
    data = json.loads(capsys.readouterr().out)
    marked = {i["name"]: i["missing"] for i in data["images"]}
    assert marked.pop(gone.name) is True and not any(marked.values())
    for argv in (["--device", "cpu"], ["--stored-only"]):
        assert main(["suggest", root, "--all", *argv]) == 0
        out = capsys.readouterr().out
        row = next(line for line in out.splitlines() if gone.name in line)
        assert row.endswith("(picture missing)"), out
        assert sum("(picture missing)" in line for line in out.splitlines()) == 1
        assert "1 of them have no picture on disk" in out


def test_the_lock_refusal_names_suggest_stored_only_as_running_beside(project):
    from annotator.storage.lock import ProjectLock, ProjectLocked

    # the fixture's project holds the lock; a second take is what another process meets
    with pytest.raises(ProjectLocked, match="suggest --stored-only can run beside it"):
        ProjectLock._take(project.root.resolve())
