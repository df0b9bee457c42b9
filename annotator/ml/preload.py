"""Import torch on a background thread without freezing the GUI thread.

A thread that imports torch still holds Python's global lock for most of what the
dynamic loader does: mapping ``libtorch_cpu`` (400 MB) and resolving its symbols took
150-400 ms on the 2-core development machine, during which the GUI thread could not run
(the first training round of a session froze the window that long). A call through
``ctypes`` releases the lock, so :func:`preload_torch_libraries` asks the loader for
torch's libraries that way first; the ``import torch`` that follows finds them loaded.
The first optimizer made in a process imports about 800 more modules
(``torch._dynamo`` and what it needs: 0.9 s here), which froze the window again, in
bursts of 100-400 ms. The GUI starts :func:`warm_up_torch` once its window is shown (ADR 0025):
it does both ahead, so the first round (or a proposal without an ONNX file) pays for
neither, then puts what the imports made out of the garbage collector's reach
(:func:`settle_imports`, ADR 0032). This module does not import torch itself at import
time.
"""

from __future__ import annotations

import ctypes
import gc
import importlib.util
import logging
import os
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)

#: torch's own libraries, most dependent first: loading one loads those it needs.
TORCH_LIBRARIES = ("libtorch_python.so", "libtorch.so", "libtorch_cpu.so")


def torch_library_folder() -> Path | None:
    """The folder of torch's shared libraries, found without importing torch (None
    when torch is not installed)."""
    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "lib"


def preload_torch_libraries() -> list[str]:
    """Load torch's shared libraries through a ``dlopen`` call that releases the global
    lock (Linux only; elsewhere, when torch is imported already or when a library will
    not load, it does nothing and the import loads them as usual). Returns the names
    loaded."""
    if not sys.platform.startswith("linux") or "torch" in sys.modules:
        return []
    folder = torch_library_folder()
    if folder is None:
        return []
    try:
        dlopen = ctypes.CDLL(None).dlopen  # glibc's, through the process's own symbols
    except (OSError, AttributeError):
        return []
    dlopen.restype = ctypes.c_void_p
    dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    loaded = []
    for name in TORCH_LIBRARIES:
        path = folder / name
        if not path.is_file():
            continue
        # RTLD_NOW: every symbol is resolved here, not later under the lock. The handle
        # is kept open on purpose: the import takes the library over.
        if dlopen(os.fsencode(path), os.RTLD_NOW | os.RTLD_LOCAL):
            loaded.append(name)
            break  # its dependencies came with it
    return loaded


def settle_imports() -> int:
    """Put every object alive now out of the garbage collector's reach (``gc.freeze``);
    returns how many. The modules imported so far (with torch's, about 280,000 objects)
    live until the process ends, yet every full collection went through them all: 0.2 s
    of Python's lock, 0.4-0.6 s on a loaded machine, several times a minute during a
    round (whichever thread ran it, the window stood still: N's worst case, ADR 0032).
    Only what is made later is collected then. No collection runs first: one right after
    the imports found nothing to free and held the lock 0.13-0.19 s; a cycle of objects
    alive now that becomes garbage later is never freed (a one-time amount)."""
    gc.freeze()
    return gc.get_freeze_count()


_importing = threading.Lock()


def import_torch_quietly() -> None:
    """Import torch as :func:`warm_up_torch` does (its libraries through a call that
    releases the lock, no collection meanwhile, what it made frozen after), from the
    thread that first needs it: a project with a model opened before the warm-up began
    had its proposals thread import torch plainly, and the window stood still 0.4-0.7 s.
    Returns at once once torch is imported (or being imported: the import waits)."""
    if "torch" in sys.modules:
        return
    with _importing:
        if "torch" in sys.modules:
            return
        collecting = gc.isenabled()
        gc.disable()
        try:
            preload_torch_libraries()
            import torch  # noqa: F401
        finally:
            settle_imports()
            if collecting:
                gc.enable()


def warm_up_torch() -> threading.Thread:
    """Import torch on a thread (libraries first), and make an optimizer once (see the
    module); returns the thread. Failures are only logged: whoever needs torch imports
    it again and reports the error then."""

    def work() -> None:
        # No collection while the imports make their 280,000 objects: each full one
        # went through all made so far holding the lock, and the window stood still
        # 0.2-0.4 s several times (0.5-1.8 s on a loaded machine). Nothing they make is
        # garbage; what the window makes meanwhile waits for the next collection.
        collecting = gc.isenabled()
        gc.disable()
        try:
            import_torch_quietly()
            import torch

            torch.optim.AdamW([torch.zeros(1, requires_grad=True)])
        except Exception as exc:  # a broken torch install is reported where it is used
            log.debug("warming up torch failed: %s", exc)
        finally:
            settle_imports()
            if collecting:
                gc.enable()

    thread = threading.Thread(target=work, name="annotator-torch-warmup")
    thread.start()
    return thread
