"""The project on disk: SQLite index, label masks as PNG, atomic writes, image reading."""
