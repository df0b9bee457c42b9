"""The project's write lock, as the front ends see it: who holds it, what a refusal is,
and how long to wait for it (:mod:`annotator.storage.lock` does the locking)."""

from __future__ import annotations

from annotator.storage.lock import LockInfo as LockInfo
from annotator.storage.lock import ProjectLocked as ProjectLocked
from annotator.storage.lock import stop_waiting_when as stop_waiting_when
from annotator.storage.lock import wait_for_locks as wait_for_locks
