"""Build the two illustrative layers of the national sample (sverige_project.toml).

The national sample scores all 21 counties with two real layers (health facilities from
OpenStreetMap, SCB's urban areas with their population) and two illustrative ones written here:

* national_vattenskydd.gpkg ▸ vattenskydd: 4,000 water-protection-zone-like polygons (300 m to
  6 km across, a quarter of them overlapping a neighbour) placed around SCB's urban areas, so
  they fall on land and where people live;
* national_sarbarhet_kommun.csv: a vulnerability index 0–100 per municipality (all 290), drawn
  from the municipality's urban population with noise.

Fixed seed, small files (about 1.5 MB together), each with a ``.meta.toml`` sidecar saying
``illustrative = true``. Run: ``python sample_data/generate_national.py``.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

HERE = Path(__file__).resolve().parent
REF = HERE / "sweden_reference.gpkg"
SEED = 2613
ZONES = 4_000
NOTE = "Illustrativ exempeldata för hela landet, härledd från SCB:s tätorter 2020 – inte officiella uppgifter."


def write_meta(path: Path, sector: str, title: str, description: str) -> None:
    path.with_name(path.name + ".meta.toml").write_text(
        f'sector = "{sector}"\ntitle = "{title}"\n'
        f'source = "Skikt sample_data/generate_national.py (seed {SEED}), derived from SCB tätorter 2020"\n'
        f'licence = "CC0 (illustrative)"\nyear = 2026\ndescription = "{description} {NOTE}"\n'
        f"illustrative = true\n", encoding="utf-8")


def zones(rng: np.random.Generator, towns: gpd.GeoDataFrame, land) -> gpd.GeoDataFrame:
    """Irregular polygons around urban areas (larger towns more often), clipped to land."""
    weight = np.sqrt(towns["pop"].to_numpy(float))
    pick = rng.choice(len(towns), ZONES, p=weight / weight.sum())
    xy = shapely.get_coordinates(towns.geometry.to_numpy())[pick]
    xy = xy + rng.normal(0, 8_000, xy.shape)
    radius = np.exp(rng.uniform(np.log(150), np.log(3_000), ZONES))
    angles = np.linspace(0, 2 * np.pi, 17)[:-1]
    wobble = rng.uniform(0.6, 1.3, (ZONES, len(angles)))
    rings = xy[:, None, :] + (radius[:, None] * wobble)[..., None] * np.stack([np.cos(angles), np.sin(angles)], -1)
    polys = shapely.polygons(np.concatenate([rings, rings[:, :1]], axis=1))
    polys = shapely.intersection(polys, land)
    keep = ~shapely.is_empty(polys) & (shapely.area(polys) > 0)
    frame = gpd.GeoDataFrame({"zon": np.arange(ZONES)[keep] + 1,
                              "klass": rng.choice(["primär", "sekundär"], ZONES)[keep]},
                             geometry=polys[keep], crs=3006)
    return frame.explode(index_parts=False).reset_index(drop=True)


def vulnerability(rng: np.random.Generator, municipalities: gpd.GeoDataFrame, towns) -> pd.DataFrame:
    pop = towns.groupby("mun_code")["pop"].sum().reindex(municipalities["code"]).fillna(0).to_numpy()
    index = np.clip(70 - 6 * np.log1p(pop) + rng.normal(0, 12, len(pop)) + 40, 0, 100)
    return pd.DataFrame({"kommunkod": municipalities["code"].to_numpy(), "kommun": municipalities["name"].to_numpy(),
                         "sarbarhet": np.round(index, 1)})


def main() -> None:
    rng = np.random.default_rng(SEED)
    towns = gpd.read_file(REF, layer="tatorter")
    municipalities = gpd.read_file(REF, layer="kommuner")
    land = shapely.union_all(gpd.read_file(REF, layer="lan").geometry.to_numpy())
    out = HERE / "national_vattenskydd.gpkg"
    zones(rng, towns, land).to_file(out, layer="vattenskydd", driver="GPKG")
    write_meta(out, "water", "Vattenskyddsområden, hela landet",
               "Polygoner som liknar vattenskyddsområden, en fjärdedel överlappar en granne.")
    csv = HERE / "national_sarbarhet_kommun.csv"
    vulnerability(rng, municipalities, towns).to_csv(csv, index=False, encoding="utf-8")
    write_meta(csv, "socioeconomics", "Sårbarhetsindex per kommun", "Index 0–100, högre = mer sårbar.")


if __name__ == "__main__":
    main()
