"""Loading torch off the GUI thread (annotator.ml.preload). Each test runs in a fresh
interpreter, where torch is not imported yet."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the preload is for Linux's loader"
)


def run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_libraries_load_without_importing_torch() -> None:
    out = run(
        """
        import sys
        from annotator.ml.preload import preload_torch_libraries
        loaded = preload_torch_libraries()
        maps = open("/proc/self/maps").read()
        print(loaded, "torch" in sys.modules, "libtorch_cpu.so" in maps)
        import torch
        print(float(torch.ones(2).sum()), preload_torch_libraries())
        """
    )
    assert out.split("\n")[:2] == ["['libtorch_python.so'] False True", "2.0 []"]


def test_the_main_thread_runs_while_the_libraries_load() -> None:
    """The loader's work is done without Python's lock: the main thread is not held up
    for the whole of it (a plain ctypes.CDLL would hold it for all of it)."""
    out = run(
        """
        import threading, time
        from annotator.ml.preload import preload_torch_libraries
        took = []
        def load():
            t = time.perf_counter(); preload_torch_libraries()
            took.append(time.perf_counter() - t)
        thread = threading.Thread(target=load)
        last, longest = time.perf_counter(), 0.0
        thread.start()
        while thread.is_alive():
            time.sleep(0.001)
            now = time.perf_counter(); longest = max(longest, now - last); last = now
        print(took[0], longest)
        """
    )
    took, longest = map(float, out.split())
    if took < 0.05:
        pytest.skip(f"the libraries loaded in {took * 1000:.0f} ms: too fast to tell")
    assert longest < took / 2, (took, longest)


def test_the_warm_up_imports_what_a_first_round_needs() -> None:
    """torch, and what the first optimizer imports (torch._dynamo): the round that
    follows imports nothing more of that kind."""
    out = run(
        """
        import sys
        from annotator.ml.preload import warm_up_torch
        assert "torch" not in sys.modules
        warm_up_torch().join()
        print("torch" in sys.modules, "torch._dynamo" in sys.modules)
        """
    )
    assert out.split() == ["True", "True"]


def test_the_warm_up_puts_what_the_imports_made_out_of_the_collectors_reach() -> None:
    """Every full collection went through the 180,000 objects torch's import made (0.2 s
    of Python's lock, N's worst case during a round: ADR 0032); after the warm-up they
    are frozen, and a collection goes through what is made later alone."""
    out = run(
        """
        import gc
        from annotator.ml.preload import warm_up_torch
        warm_up_torch().join()
        import torch
        print(gc.get_freeze_count(), len(gc.get_objects()))
        """
    )
    frozen, scanned = map(int, out.split())
    assert frozen > 100_000, out
    assert scanned < frozen // 20, out


#: Run in a fresh interpreter: ``START`` (a statement starting a thread named ``THREAD``
#: that imports torch); prints the collections that ran on that thread, whether the
#: collector is on after, and whether the imports' objects are out of its reach.
_COLLECTIONS_DURING = """
import gc, threading
from annotator.ml import preload
during = []
gc.callbacks.append(
    lambda phase, info: phase == "start"
    and threading.current_thread().name == THREAD
    and during.append(info["generation"])
)
START.join()
print(len(during), gc.isenabled(), gc.get_freeze_count() > 100000)
"""


@pytest.mark.parametrize(
    ("thread", "start"),
    [
        ("annotator-torch-warmup", "preload.warm_up_torch()"),
        (  # a worker that needs torch first (a project opened with a model)
            "worker",
            "(t := threading.Thread(target=preload.import_torch_quietly, name=THREAD))"
            " and (t.start() or t)",
        ),
    ],
)
def test_no_collection_runs_while_torch_is_imported(thread: str, start: str) -> None:
    """Full collections during the imports each went through every object made so far,
    holding the lock: the window stood still 0.2-1.8 s several times, and 0.4-0.7 s
    when a project opened with a model had its proposals thread import torch plainly
    before the window's warm-up began. The collector is on again after, with what the
    imports made out of its reach."""
    code = _COLLECTIONS_DURING.replace("START", start).replace("THREAD", repr(thread))
    assert run(code).split() == ["0", "True", "True"]


def test_loading_a_predictor_imports_torch_quietly(monkeypatch) -> None:
    from annotator.ml import preload
    from annotator.services import proposals

    called: list[bool] = []
    monkeypatch.setattr(preload, "import_torch_quietly", lambda: called.append(True))
    with pytest.raises(Exception, match="no model yet"):
        proposals.load_predictor(_ProjectWithoutModel())  # type: ignore[arg-type]
    assert called == [True]


class _ProjectWithoutModel:
    def active_model(self) -> None:
        return None
