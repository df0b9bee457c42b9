"""Where this process sits in a ``torchrun`` group, from the variables it sets; no torch.

Every layer asks the same two questions: is this a group of several processes
(``WORLD_SIZE`` > 1), and is this process a helper rank (``RANK`` > 0) that must
neither print nor write? A ``RANK`` left in the environment of a single process (a job
scheduler's) answers neither: without ``WORLD_SIZE`` > 1 there is no group.
"""

from __future__ import annotations

import os


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, "").strip() or default)
    except ValueError:
        return default


def world_size() -> int:
    """The processes of the group (1 outside ``torchrun``, or when unreadable)."""
    return max(1, _env_int("WORLD_SIZE", 1))


def local_world_size() -> int:
    """The group's processes on this machine (they share its CPU threads)."""
    return max(1, _env_int("LOCAL_WORLD_SIZE", 1))


def rank() -> int:
    """This process's rank in the group (0 outside ``torchrun``, or when unreadable)."""
    return _env_int("RANK", 0)


def is_helper_rank() -> bool:
    """A rank other than 0 of a group: it reads, never prints or writes."""
    return world_size() > 1 and rank() != 0
