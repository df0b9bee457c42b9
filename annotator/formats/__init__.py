"""Interchange formats: one module per format, each a pair of read/write functions."""
