"""Metadata every loaded layer carries, and the report of what loading had to do to it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class LayerMeta:
    sector: str = "reference"
    title: str = ""
    source: str = ""
    licence: str = ""
    year: int | None = None
    description: str = ""
    illustrative: bool = False

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None and v != "" and v is not False}

    @classmethod
    def from_dict(cls, d: dict) -> "LayerMeta":
        """From values already checked (project [layers.meta], :func:`read_sidecar`); a value of
        the wrong kind is dropped, never turned into a number or a flag by guessing."""
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        year = known.get("year")
        if not (year is None or (isinstance(year, int) and not isinstance(year, bool))):
            known.pop("year")
        if not isinstance(known.get("illustrative", False), bool):
            known.pop("illustrative")
        for key in ("sector", "title", "source", "licence", "description"):
            if key in known and not isinstance(known[key], str):
                known.pop(key)
        return cls(**known)


def read_sidecar(path, strict: bool = True) -> dict:
    """Metadata shipped beside a data file as ``<file>.meta.toml`` (e.g. by sample_data/generate.py).

    Checked against the same schema as a project's ``[layers.meta]``: a wrong value (``year =
    "abc"``) or broken TOML raises one line naming the sidecar. ``strict=False`` (for dialogs that
    only pre-fill fields) returns {} instead.
    """
    import tomllib
    from pathlib import Path

    from .schema import MetaModel, SidecarError, validate

    side = Path(str(path) + ".meta.toml")
    if not side.is_file():
        return {}
    try:
        data = tomllib.loads(side.read_bytes().removeprefix(b"\xef\xbb\xbf").decode("utf-8"))
        _, errors = validate(MetaModel, data, "", side, SidecarError)
        if errors:
            raise errors[0]
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, ValueError, RecursionError, OSError) as exc:
        if not strict:
            return {}
        raise SidecarError.of("perr_toml", side, detail=str(exc) or type(exc).__name__) from None
    except SidecarError:
        if not strict:
            return {}
        raise
    return data


@dataclass
class LoadReport:
    """What loading found and fixed; shown in inspect, the CLI and the app's properties dialog."""

    path: str
    layer: str | None = None
    feature_count: int = 0
    null_geometries: int = 0
    empty_geometries: int = 0
    invalid_repaired: int = 0
    encoding: str | None = None
    source_crs: str | None = None
    reprojected_to: str | None = None
    warnings: list[str] = field(default_factory=list)

    def summary(self, lang: str = "en") -> str:
        from .i18n import tr

        parts = [f"{self.feature_count} {tr('features', lang)}"]
        if self.null_geometries or self.empty_geometries:
            parts.append(tr("sum_dropped", lang).format(n=self.null_geometries + self.empty_geometries))
        if self.invalid_repaired:
            parts.append(tr("sum_repaired", lang).format(n=self.invalid_repaired))
        if self.reprojected_to:
            parts.append(tr("sum_reprojected", lang).format(src=self.source_crs, dst=self.reprojected_to))
        return ", ".join(parts)
