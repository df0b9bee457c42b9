"""PySide6 widgets. Only this package imports Qt."""
