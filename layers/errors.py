"""Errors that carry a one-line message meant for the user (CLI prints it, the app shows it)."""

from __future__ import annotations

from pathlib import Path


class SkiktError(Exception):
    """A problem with the user's input. ``str(err)`` is a single line naming the file."""

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = str(path) if path is not None else None
        text = " ".join(str(message).split())  # never let a multi-line GDAL message through
        super().__init__(f"{Path(self.path).name}: {text}" if self.path else text)


class LoadError(SkiktError):
    """A data file could not be read or makes no sense as a layer."""


class CRSRequired(LoadError):
    """The file has no CRS and none was given; we refuse to guess."""

    def __init__(self, path, suggestions: list[str]):
        self.suggestions = suggestions
        hint = f" (coordinates fit {' or '.join(suggestions)})" if suggestions else ""
        super().__init__(f"has no coordinate system; give one explicitly{hint}", path)


class ProjectError(SkiktError):
    """The project file is invalid."""
