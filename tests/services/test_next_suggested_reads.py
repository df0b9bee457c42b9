"""N ("next suggested") reads the ids and scores of the images to label, and the record
of the one it picks alone.

At 5,000 images :meth:`ModelService.suggest` read every image's whole record on the
window's thread (0.2-0.4 s each N). It now ranks ``Project.image_scores`` (two columns)
and reads one record; these tests check it picks what the old rule picked (every
record read, ranked by :func:`proposals.rank_records`, the end of the ranking no score
orders walked on from the image shown) on varied projects, and that it reads no other
record.
"""

from __future__ import annotations

import random
import threading

import cv2
import numpy as np
import pytest
from modelhelpers import ranked_project

from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.services import proposals
from annotator.services.jobs import call_directly
from annotator.services.model_service import SCORED_STRATEGY, ModelService, ModelSettings
from annotator.storage import proposals as proposal_store
from annotator.storage.project import Project

SETTINGS = ModelSettings(device="cpu", threads=1, train_on_done=False)
STRATEGIES = ("uncertainty", "random", "in-order")


def old_rule(service: ModelService) -> tuple:
    """What ``suggest`` answered when it read every record (the code it replaced)."""
    project, active = service.project, service.active_version
    current = service._current
    records = [r for r in project.images() if r.status != ImageStatus.DONE and r.id != current]
    strategy = service.settings.strategy
    if active is None or strategy != SCORED_STRATEGY:
        ranked = proposals.rank_records(records, strategy)
        if strategy != "random":
            ranked = _on_from(
                current, ranked, lambda r: strategy == "uncertainty" and r.score is not None
            )
        first = ranked[0] if ranked else None
        return (first and first.id, active, 0, len(records), True, None)
    made = service._worker.scores_by(active)
    fresh = {r.id: made[r.id] for r in records if r.id in made}
    ranked = proposals.rank_records(records, strategy, fresh)
    ranked = _on_from(current, ranked, lambda r: r.id in fresh or r.score is not None)
    first = ranked[0] if ranked else None
    by = None
    if first is not None and first.score is not None:
        if first.id in fresh:
            by = active
        else:
            stored = proposal_store.version_and_score(project, first.id)
            by = None if stored is None else stored[0]
    return (first and first.id, active, len(fresh), len(records), len(fresh) == len(records), by)


def _on_from(current, ranked: list, scored) -> list:
    """``ranked`` with its end that no score orders (in the order added) walked from
    the image after ``current``, round to the first (N walks on, not back)."""
    if current is None:
        return ranked
    cut = len(ranked)
    while cut and not scored(ranked[cut - 1]):
        cut -= 1
    rest = ranked[cut:]
    return ranked[:cut] + [r for r in rest if r.id > current] + [r for r in rest if r.id < current]


def new_rule(service: ModelService) -> tuple:
    s = service.suggest()
    record = s.record
    return (record and record.id, s.version, s.scored, s.total, s.complete, s.ranked_by)


def _vary(project: Project, rng: random.Random) -> None:
    """Statuses, and scores with ties, gaps and none at all."""
    records = project.images()
    scores = {}
    for r in records:
        scores[r.id] = rng.choice([None, 0.5, 0.5, round(rng.random(), 1), rng.random()])
    project.set_scores(scores)
    statuses = [(rng.choice(["new", "new", "in_progress", "done", "done"]), r.id) for r in records]
    with project._db.transaction() as conn:  # (one commit, not one per image)
        conn.executemany("UPDATE images SET status = ? WHERE id = ?", statuses)


def _paused_service(project: Project) -> ModelService:
    service = ModelService(project, call_directly, settings=SETTINGS)
    service.pause_proposals()  # the image shown changes below, the worker scores nothing
    assert service.wait_proposals(30)
    return service


@pytest.fixture
def scored(tmp_path):
    """40 images and a model v1 (active), whose proposals of 6 images are stored."""
    with Project.open(ranked_project(tmp_path, 40)) as project:
        proposals.predict_images(project, project.images()[10:16], device="cpu")
        yield project


def test_the_choice_is_the_old_rules_on_varied_projects(scored, monkeypatch):
    service = _paused_service(scored)
    try:
        assert service.active_version == 1
        rng = random.Random(7)
        ids = [r.id for r in scored.images()]
        checked = 0
        for trial in range(30):
            _vary(scored, rng)
            # the active version's scores so far: none, some (ties too), every image's
            made = {i: rng.choice([0.5, rng.random()]) for i in ids if rng.random() < trial / 30}
            monkeypatch.setattr(service._worker, "scores_by", lambda v, m=made: dict(m))
            service.show_image(rng.choice([None, *ids]))
            for strategy in STRATEGIES:
                service.settings = ModelSettings(strategy=strategy)
                assert new_rule(service) == old_rule(service), (trial, strategy)
                checked += 1
        assert checked == 90
    finally:
        service.shutdown(10)


def test_the_choice_is_the_old_rules_without_a_model(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(25):
        cv2.imwrite(str(folder / f"im{i:02d}.png"), np.full((8, 8), i, np.uint8))
    with Project.create(tmp_path / "proj", LabelSchema.from_names(["a", "b"])) as project:
        project.add_images([folder])
        service = _paused_service(project)
        try:
            assert service.active_version is None
            rng = random.Random(3)
            ids = [r.id for r in project.images()]
            for trial in range(20):
                _vary(project, rng)
                service.show_image(rng.choice([None, *ids]))
                for strategy in STRATEGIES:
                    service.settings = ModelSettings(strategy=strategy)
                    assert new_rule(service) == old_rule(service), (trial, strategy)
            with project._db.transaction() as conn:  # every image done: nothing to suggest
                conn.execute("UPDATE images SET status = 'done'")
            assert service.suggest().record is None
        finally:
            service.shutdown(10)


def test_n_reads_one_record_of_the_images(scored):
    """The SQL N runs: no statement reads every image's whole row."""
    service = _paused_service(scored)
    statements: list[str] = []
    try:
        records = scored.images()
        scored.set_scores({r.id: 0.1 * (i % 7) for i, r in enumerate(records)})
        service.show_image(records[5].id)
        scored._db.set_trace(statements.append)
        try:
            for strategy in STRATEGIES:
                service.settings = ModelSettings(strategy=strategy)
                assert service.suggest().record is not None
        finally:
            scored._db.set_trace(None)
    finally:
        service.shutdown(10)
    whole_rows = [s for s in statements if "SELECT * FROM images" in s]
    assert len(whole_rows) == 3, statements  # one per N: the record of the image picked
    assert all("WHERE id = " in s for s in whole_rows), whole_rows


def test_n_does_not_wait_for_the_workers_score_commit(scored):
    """The proposal worker records each score it makes in a transaction whose commit (a
    synced write) took 0.3-0.6 s during a round, the shared connection's lock held
    throughout: N, reading through that connection on the window's thread, waited for
    it (0.45-0.7 s). It now reads through a connection of its own (ADR 0031)."""
    service = _paused_service(scored)
    records = scored.images()
    scored.set_scores({r.id: 0.1 for r in records})
    service.settings = ModelSettings(strategy=SCORED_STRATEGY)
    first = service.suggest().record
    assert first is not None
    began, go_on, ended = threading.Event(), threading.Event(), threading.Event()
    suggested: list = []

    def worker_commit() -> None:  # the worker's write, its commit held up
        with scored._db.transaction() as conn:
            conn.execute("UPDATE images SET score = 0.9 WHERE id = ?", (records[-1].id,))
            began.set()
            go_on.wait(30)

    def press_n() -> None:
        try:
            suggested.append(service.suggest().record)
        finally:
            ended.set()

    writer = threading.Thread(target=worker_commit)
    writer.start()
    try:
        assert began.wait(30)
        threading.Thread(target=press_n, daemon=True).start()
        assert ended.wait(10), "N waited for the worker's transaction"
        assert suggested == [first]  # the last commit's scores: not the one being written
    finally:
        go_on.set()
        writer.join(30)
        service.shutdown(10)
    assert scored.image(records[-1].id).score == 0.9
