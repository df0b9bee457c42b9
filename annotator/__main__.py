"""``python -m annotator`` is the same as the ``annotator`` command."""

from annotator.cli import main

raise SystemExit(main())
