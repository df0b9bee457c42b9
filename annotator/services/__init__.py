"""Orchestration shared by the GUI and the CLI. No Qt and no torch at import time."""
