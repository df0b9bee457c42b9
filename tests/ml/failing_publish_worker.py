"""``annotator`` with publishing made to fail as a full disk would (run by torchrun)."""

import errno
import sys

import annotator.services.training as training


def _full_disk(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


training.publish = _full_disk

from annotator.cli import main  # noqa: E402 (after the patch, as the test needs)

sys.exit(main(sys.argv[1:]))
