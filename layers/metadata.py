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
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        if "year" in known and known["year"] not in (None, ""):
            known["year"] = int(known["year"])
        if "illustrative" in known:
            v = known["illustrative"]
            known["illustrative"] = v if isinstance(v, bool) else str(v).lower() in ("1", "true", "yes", "ja")
        return cls(**known)


def read_sidecar(path) -> dict:
    """Metadata shipped beside a data file as ``<file>.meta.toml`` (e.g. by sample_data/generate.py)."""
    import tomllib
    from pathlib import Path

    side = Path(str(path) + ".meta.toml")
    if not side.exists():
        return {}
    try:
        return tomllib.loads(side.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


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
