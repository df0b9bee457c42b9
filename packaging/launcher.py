"""Entry point of the frozen app: the same as the ``annotator`` command."""

import multiprocessing

from annotator.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a no-op unless a child process is started
    raise SystemExit(main())
