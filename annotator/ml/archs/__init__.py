"""The segmentation networks of the seed, one module per architecture.

Every network subclasses :class:`annotator.ml.archs.common.SegmentationNetwork`, which
holds the contract the rest of the app relies on (padding to ``config.multiple``, the
per-channel input normalisation buffer, the list of classifier convolutions). The
registry in :mod:`annotator.ml.networks` names them; nothing else should import these
modules directly except through ``build_network``.
"""
