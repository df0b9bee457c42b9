"""Annotator: per-pixel ground truth for semantic segmentation.

Importing this package is cheap on purpose: it imports neither torch nor Qt.
Heavy layers (``annotator.ml``, ``annotator.gui``) are imported only by the code
paths that need them.
"""

__version__ = "0.1.0"
