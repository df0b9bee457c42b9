"""Background jobs without an event loop: one job at a time, latest request wins."""

import threading
import time

from annotator.core.errors import Cancelled
from annotator.services.jobs import JobCallbacks, LatestWinsWorker, SingleJobRunner, call_directly


def test_single_job_runner_runs_one_job_and_reports_progress_and_result():
    events = []
    gate = threading.Event()

    def work(progress, cancel):
        progress(1)
        gate.wait(5)
        return "result"

    runner = SingleJobRunner(call_directly)
    cb = JobCallbacks(
        on_done=lambda r: events.append(("done", r)),
        on_error=lambda e: events.append(("error", e)),
        on_progress=lambda p: events.append(("progress", p)),
    )
    assert runner.start(work, cb)
    assert not runner.start(work, cb)  # busy: the second is refused
    gate.set()
    assert runner.join(5)
    assert events == [("progress", 1), ("done", "result")]


def test_cancel_stops_a_job_at_its_next_check_and_reports_cancelled():
    events = []

    def work(progress, cancel):
        while not cancel.cancelled:
            time.sleep(0.01)
        raise Cancelled("stopped")

    runner = SingleJobRunner(call_directly)
    runner.start(
        work,
        JobCallbacks(
            on_done=lambda r: events.append("done"),
            on_error=lambda e: events.append("error"),
            on_cancelled=lambda: events.append("cancelled"),
        ),
    )
    assert runner.shutdown(5)
    assert events == ["cancelled"]


def test_a_job_that_returns_after_a_cancel_reports_what_it_did():
    """A cancel that came too late (a round already publishing) must not be told as one
    that stopped the work: the result says what happened."""
    events = []
    started, cancelled = threading.Event(), threading.Event()

    def work(progress, cancel):
        started.set()
        cancelled.wait(5)
        return "published"

    runner = SingleJobRunner(call_directly)
    runner.start(
        work,
        JobCallbacks(
            on_done=events.append,
            on_error=lambda e: events.append("error"),
            on_cancelled=lambda: events.append("cancelled"),
        ),
    )
    assert started.wait(5)
    runner.cancel()
    cancelled.set()
    assert runner.join(5)
    assert events == ["published"]


def test_errors_in_a_job_reach_the_owner():
    errors = []

    def work(progress, cancel):
        raise ValueError("bad data")

    runner = SingleJobRunner(call_directly)
    runner.start(work, JobCallbacks(on_done=lambda r: None, on_error=errors.append))
    runner.join(5)
    assert [str(e) for e in errors] == ["bad data"]


def test_latest_wins_worker_skips_requests_superseded_before_they_started():
    started = threading.Event()
    release = threading.Event()
    seen = []

    def work(request):
        if request == 0:
            started.set()
            release.wait(5)
        return request * 10

    worker = LatestWinsWorker(
        work,
        lambda req, res: seen.append((req, res)),
        lambda req, e: seen.append((req, e)),
        call_directly,
    )
    worker.submit(0)
    started.wait(5)
    for i in range(1, 6):  # queued while 0 runs: only the last survives
        worker.submit(i)
    release.set()
    assert worker.wait_idle(5)
    assert seen == [(0, 0), (5, 50)]
    assert worker.shutdown()


def test_latest_wins_worker_reports_errors_with_their_request():
    seen = []

    def work(request):
        raise RuntimeError(f"fail {request}")

    worker = LatestWinsWorker(
        work, lambda r, res: None, lambda r, e: seen.append((r, str(e))), call_directly
    )
    worker.submit("a")
    worker.wait_idle(5)
    assert seen == [("a", "fail a")]
    worker.shutdown()


def test_a_jobs_final_callback_can_start_the_next_job():
    runs = []

    def work(progress, cancel):
        runs.append(len(runs))
        return len(runs)

    runner = SingleJobRunner(call_directly)

    def done(n):
        if n < 2:  # a queued follow-up starts from the callback of the job before it
            assert not runner.busy
            assert runner.start(work, callbacks)

    callbacks = JobCallbacks(on_done=done, on_error=lambda e: runs.append(e))
    runner.start(work, callbacks)
    assert runner.join(5) and runner.join(5)
    assert runs == [0, 1]


def _cancellable_worker(stopped: Exception):
    """A cancellable worker whose ``"slow"`` request runs until cancelled, then raises
    ``stopped``, and whose others return at once, upper-cased; with the event set when
    "slow" starts, and the lists of results and errors it reports."""
    started = threading.Event()
    seen: list = []
    errors: list = []

    def work(request, cancel):
        if request == "slow":
            started.set()
            while not cancel.is_set():  # a long request: it checks between its steps
                time.sleep(0.005)
            raise stopped  # after a cancel: never reported as an error
        return request.upper()

    worker = LatestWinsWorker(
        work,
        lambda req, res: seen.append((req, res)),
        lambda req, e: errors.append((req, e)),
        call_directly,
        cancellable=True,
    )
    return worker, started, seen, errors


def test_a_newer_request_cancels_the_running_one_in_a_cancellable_worker():
    worker, started, seen, errors = _cancellable_worker(RuntimeError("stopped early"))
    worker.submit("slow")
    assert started.wait(5)
    worker.submit("fast")
    assert worker.wait_idle(5)
    assert seen == [("fast", "FAST")] and errors == []
    started.clear()
    worker.submit("slow")
    assert started.wait(5)
    assert worker.shutdown(5)  # shutdown cancels the running request too


def test_coalescing_queue_keeps_the_newest_item_per_key_and_handles_every_key():
    from annotator.services.jobs import CoalescingQueue

    gate = threading.Event()
    handled = []

    def handle(key, item, token):
        if key == "first":
            gate.wait(5)  # hold the worker so later submissions queue up
        handled.append((key, item))

    queue = CoalescingQueue(handle, "test-queue")
    queue.submit("first", 0)
    queue.submit("a", 1)
    queue.submit("b", 1)
    queue.submit("a", 2)  # replaces a=1, which has not started
    assert not queue.idle
    gate.set()
    assert queue.wait_idle(5)
    assert handled == [("first", 0), ("a", 2), ("b", 1)]
    assert queue.close(drop_pending=False, timeout=5)


def test_coalescing_queue_survives_a_failing_handler_and_refuses_work_after_close():
    from annotator.services.jobs import CoalescingQueue

    handled = []

    def handle(key, item, token):
        if item == "boom":
            raise ValueError("handler bug")
        handled.append(item)

    queue = CoalescingQueue(handle, "test-queue")
    queue.submit(1, "boom")
    queue.submit(2, "fine")
    assert queue.wait_idle(5)
    assert handled == ["fine"]
    queue.close(drop_pending=True, timeout=5)
    try:
        queue.submit(3, "late")
    except RuntimeError as exc:
        assert "closed" in str(exc)
    else:
        raise AssertionError("a closed queue accepted work")


def test_a_user_error_in_the_background_is_logged_as_one_line_and_a_bug_with_its_traceback(
    caplog,
):
    from annotator.core.errors import AnnotatorError

    for exc, traceback in ((AnnotatorError("image.png: no such file"), False), (KeyError(3), True)):
        caplog.clear()
        errors = []

        def work(request, exc=exc):
            raise exc

        worker = LatestWinsWorker(
            work, lambda r, res: None, lambda r, e, errors=errors: errors.append(e), call_directly
        )
        worker.submit("go")
        assert worker.wait_idle(5)
        worker.shutdown()
        assert errors == [exc]
        [record] = [r for r in caplog.records if "worker request failed" in r.getMessage()]
        assert (record.exc_info is not None) is traceback


def test_cancel_stops_the_running_request_and_the_worker_goes_on():
    worker, started, seen, errors = _cancellable_worker(Cancelled("stopped early"))
    assert not worker.cancel(), "an idle worker had nothing to cancel"
    worker.submit("slow")
    assert started.wait(5)
    began = time.monotonic()
    assert worker.cancel(), "a running request was cancelled"
    assert worker.wait_idle(5)
    assert time.monotonic() - began < 2, "the running request did not stop at its next check"
    assert seen == [] and errors == [], "a cancelled request reports nothing"
    worker.submit("after")  # cancel is no shutdown: later requests run
    assert worker.wait_idle(5)
    assert seen == [("after", "AFTER")] and errors == []
    assert worker.shutdown(5)


def test_cancel_drops_a_waiting_request_and_the_result_of_one_that_cannot_stop():
    started = threading.Event()
    release = threading.Event()
    seen = []

    def work(request):  # not cancellable: the running request runs to its end
        if request == "running":
            started.set()
            release.wait(5)
        return request

    worker = LatestWinsWorker(work, lambda req, res: seen.append(req), seen.append, call_directly)
    worker.submit("running")
    assert started.wait(5)
    worker.submit("waiting")
    assert worker.cancel()
    release.set()
    assert worker.wait_idle(5)
    assert seen == [], "neither the dropped request ran nor the cancelled one's result came"
    worker.submit("next")
    assert worker.wait_idle(5) and seen == ["next"]
    assert worker.shutdown(5)
