"""Errors that carry a one-line message meant for the user (CLI prints it, the app shows it)."""

from __future__ import annotations

from pathlib import Path


class SkiktError(Exception):
    """A problem with the user's input. ``str(err)`` is a single line naming the file.

    Errors made with :meth:`of` carry a translation key, so the app can show them in the user's
    language (``err.text("sv")``) while the CLI and logs keep the English line.
    """

    key: str | None = None
    params: dict = {}

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = str(path) if path is not None else None
        text = " ".join(str(message).split())  # never let a multi-line GDAL message through
        super().__init__(f"{Path(self.path).name}: {text}" if self.path else text)

    @classmethod
    def of(cls, key: str, path: str | Path | None = None, **params):
        from .i18n import tr

        err = cls(tr(key, "en").format(**params), path)
        err.key, err.params = key, params
        return err

    def text(self, lang: str = "sv") -> str:
        if self.key is None:
            return str(self)
        from .i18n import tr

        body = " ".join(tr(self.key, lang).format(**self.params).split())
        return f"{Path(self.path).name}: {body}" if self.path else body


class LoadError(SkiktError):
    """A data file could not be read or makes no sense as a layer."""


class CRSRequired(LoadError):
    """The file has no CRS and none was given; we refuse to guess."""

    def __init__(self, path, suggestions: list[str]):
        from .i18n import tr

        self.suggestions = suggestions
        if suggestions:
            self.key, self.params = "err_no_crs_fits", {"crs": " / ".join(suggestions)}
        else:
            self.key, self.params = "err_no_crs", {}
        super().__init__(tr(self.key, "en").format(**self.params), path)


class ProjectError(SkiktError):
    """The project file is invalid."""
