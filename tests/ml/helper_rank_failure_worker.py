"""``annotator`` in which reading the labels fails on rank 1 alone (run by torchrun)."""

import os
import sys

import annotator.services.training as training
from annotator.core.errors import ModelError

_real = training.build_request


def _fails_on_rank_1(*args, **kwargs):
    if os.environ.get("RANK") == "1":
        raise ModelError("/data/cells_2.png: no such file (mounted on this node only?)")
    return _real(*args, **kwargs)


training.build_request = _fails_on_rank_1

from annotator.cli import main  # noqa: E402 (after the patch, as the test needs)

sys.exit(main(sys.argv[1:]))
