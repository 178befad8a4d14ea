"""Rebuild the illustrative sector layers of the sample project from the real reference layers.

Only the reference boundaries, urban areas and health facilities in this folder are real data.
Every file written here is *illustrative*: plausible, seeded, derived from the real urban areas
of Stockholm County, and labelled as such in its ``.meta.toml`` sidecar and in the legend.

The files deliberately arrive in the shapes regions really send: GeoJSON in WGS 84, a zipped
RT90 shapefile with Latin-1 names, a ``;``-separated cp1252 CSV whose codes lost their leading
zeros, an Excel sheet with codes as numbers, a FlatGeobuf and a GeoPackage.

Run: ``python sample_data/generate.py [--out DIR]`` (``make sample``). Same seed, same data
(GeoPackage and Excel files also carry a timestamp, so their bytes differ).
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial.distance import cdist

HERE = Path(__file__).resolve().parent
REF = HERE / "sweden_reference.gpkg"
COUNTY = "01"
SEED = 2026
NOTE = "Illustrativ exempeldata härledd från SCB:s tätorter 2020 – inte officiella uppgifter."


def write_meta(path: Path, sector: str, title: str, description: str, year: int = 2026) -> None:
    text = (
        f'sector = "{sector}"\ntitle = "{title}"\nsource = "Skikt sample_data/generate.py (seed {SEED}), '
        f'derived from SCB tätorter 2020"\nlicence = "CC0 (illustrative)"\nyear = {year}\n'
        f'description = "{description} {NOTE}"\nillustrative = true\n'
    )
    Path(str(path) + ".meta.toml").write_text(text, encoding="utf-8")


def jitter(rng, pts: np.ndarray, scale: float) -> np.ndarray:
    return pts + rng.normal(0, scale, pts.shape)


def inside(county, xy: np.ndarray) -> np.ndarray:
    return shapely.contains_xy(county, xy[:, 0], xy[:, 1])


def main(out: Path = HERE) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    lan = gpd.read_file(REF, layer="lan")
    county = lan.loc[lan.code == COUNTY, "geometry"].iloc[0]
    shapely.prepare(county)
    kommuner = gpd.read_file(REF, layer="kommuner")
    kommuner = kommuner[kommuner.code.str.startswith(COUNTY)].reset_index(drop=True)
    tat = gpd.read_file(REF, layer="tatorter")
    tat = tat[tat.lan_code == COUNTY].sort_values("pop", ascending=False).reset_index(drop=True)
    xy = shapely.get_coordinates(tat.geometry.to_numpy())

    # Transport plan: corridors along the minimum spanning tree of the larger urban areas.
    big = tat[tat["pop"] >= 10_000].reset_index(drop=True)
    bxy = xy[: len(big)]
    mst = minimum_spanning_tree(cdist(bxy, bxy)).tocoo()
    lines, rows = [], []
    for i, j in zip(mst.row, mst.col):
        a, b = bxy[i], bxy[j]
        mid = (a + b) / 2 + rng.normal(0, 1500, 2)
        lines.append(shapely.linestrings([a, mid, b]))
        kind = "järnväg" if rng.random() < 0.35 else "väg"
        rows.append({
            "objekt": f"Stråk {big.name[i]}–{big.name[j]}",
            "typ": kind,
            "kostnad_mkr": round(float(np.hypot(*(a - b)) / 1000 * rng.uniform(20, 90)), 1),
            "byggstart": int(rng.integers(2026, 2036)),
        })
    transport = gpd.GeoDataFrame(rows, geometry=lines, crs=3006).to_crs(4326)
    path = out / "transportplan_wgs84.geojson"
    path.unlink(missing_ok=True)
    transport.to_file(path, driver="GeoJSON")
    write_meta(path, "transport", "Länstransportplan: investeringsstråk",
               "Planerade investeringsstråk mellan större tätorter (minimalt uppspännande träd).")

    # Skills supply: a spreadsheet-style CSV per municipality, codes without leading zeros.
    skills = pd.DataFrame({
        "Kommunkod": kommuner.code.astype(int).astype(str),
        "Kommun": kommuner.name,
        "Kompetensgap": np.round(rng.uniform(10, 90, len(kommuner)), 1),
        "Andel_pendlar_ut": np.round(rng.uniform(15, 65, len(kommuner)), 1),
    })
    skills.loc[len(skills)] = ["1", "Hela länet", 50.0, 40.0]  # total rows are common in exports
    text = skills.to_csv(sep=";", index=False, decimal=",", lineterminator="\r\n")
    path = out / "kompetensforsorjning_kommun.csv"
    path.write_bytes(text.encode("cp1252"))
    write_meta(path, "skills", "Kompetensgap per kommun",
               "Index 0–100 för matchningsproblem på arbetsmarknaden (högre = större gap).")

    # Culture venues near urban areas.
    kinds = ["bibliotek", "museum", "teater", "konsthall", "kulturhus"]
    cult_rows, cult_pts = [], []
    for _, t in tat[tat["pop"] >= 1500].iterrows():
        n = 1 + int(np.log10(t["pop"]) - 3 + rng.random())
        for _k in range(max(1, n)):
            p = jitter(rng, np.array([[t.geometry.x, t.geometry.y]]), 900)[0]
            kind = kinds[int(rng.integers(0, len(kinds)))]
            cult_pts.append(shapely.points(p))
            cult_rows.append({"namn": f"{kind.capitalize()} {t['name']}", "typ": kind,
                              "besokare": int(rng.lognormal(9, 1))})
    culture = gpd.GeoDataFrame(cult_rows, geometry=cult_pts, crs=3006)
    path = out / "kultur_besoksnaring.gpkg"
    path.unlink(missing_ok=True)
    culture.to_file(path, layer="kulturplatser", driver="GPKG")
    write_meta(path, "culture", "Kulturplatser", "Bibliotek, museer, teatrar och kulturhus.")

    # Tourism destinations, a zipped RT90 shapefile with Latin-1 attribute text and no .cpg.
    minx, miny, maxx, maxy = county.bounds
    cand = np.column_stack([rng.uniform(minx, maxx, 4000), rng.uniform(miny, maxy, 4000)])
    cand = cand[inside(county, cand)]
    east = cand[np.argsort(-cand[:, 0])][:400]  # the archipelago side
    pts = np.vstack([east[rng.choice(len(east), 25, replace=False)], jitter(rng, xy[:35], 2500)])
    cats = ["skärgård", "natur", "kulturmiljö", "evenemang", "friluftsliv"]
    nearest = tat.name.to_numpy()[np.argmin(cdist(pts, xy), axis=1)]
    tour = gpd.GeoDataFrame({
        "namn": [f"Besöksmål nära {n}" for n in nearest],
        "kategori": [cats[int(i)] for i in rng.integers(0, len(cats), len(pts))],
        "gaster_ar": rng.lognormal(10, 1.1, len(pts)).astype(int),
    }, geometry=shapely.points(pts), crs=3006).to_crs(3021)
    path = out / "besoksmal_rt90.zip"
    with tempfile.TemporaryDirectory() as tmp:
        shp = Path(tmp) / "besoksmal.shp"
        tour.to_file(shp, driver="ESRI Shapefile", encoding="cp1252")
        (Path(tmp) / "besoksmal.cpg").unlink(missing_ok=True)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted(Path(tmp).iterdir()):
                z.write(f, f.name)
    write_meta(path, "tourism", "Besöksmål", "Besöksmål med uppskattat antal gäster per år.")

    # Water supply: plants and protection zones.
    plants = jitter(rng, xy[:14], 3000)
    plant_gdf = gpd.GeoDataFrame({
        "namn": [f"Vattenverk {n}" for n in tat.name[:14]],
        "kapacitet_m3_dygn": (rng.lognormal(8.5, 0.8, 14)).astype(int),
    }, geometry=shapely.points(plants), crs=3006)
    zones = []
    for p in plants[:10]:
        walk = p + np.cumsum(rng.normal(0, 1500, (6, 2)), axis=0)
        zones.append(shapely.linestrings(walk).buffer(rng.uniform(1500, 3500)))
    zone_gdf = gpd.GeoDataFrame({
        "namn": [f"Vattenskyddsområde {n}" for n in tat.name[:10]],
        "beslutsar": rng.integers(1975, 2024, 10),
    }, geometry=zones, crs=3006)
    path = out / "vattenforsorjning.gpkg"
    path.unlink(missing_ok=True)
    plant_gdf.to_file(path, layer="vattenverk", driver="GPKG")
    zone_gdf.to_file(path, layer="skyddsomraden", driver="GPKG")
    write_meta(path, "water", "Vattenförsörjning", "Vattenverk och vattenskyddsområden.")

    # Civil defence: shelters in proportion to population, reserve water points.
    shel_pts, shel_rows = [], []
    for i, t in tat.iterrows():
        n = int(min(40, max(0, rng.poisson(t["pop"] / 8000))))
        for p in jitter(rng, np.repeat(xy[i:i + 1], n, axis=0), 600 + 4 * np.sqrt(t["pop"])):
            shel_pts.append(shapely.points(p))
            shel_rows.append({"typ": "skyddsrum", "platser": int(rng.integers(40, 900)), "ort": t["name"]})
    for p in jitter(rng, xy[:40], 1500):
        shel_pts.append(shapely.points(p))
        shel_rows.append({"typ": "nödvattenpunkt", "platser": 0, "ort": "-"})
    civil = gpd.GeoDataFrame(shel_rows, geometry=shel_pts, crs=3006)
    path = out / "civilforsvar.fgb"
    path.unlink(missing_ok=True)
    civil.to_file(path, driver="FlatGeobuf")
    write_meta(path, "civil_defence", "Skyddsrum och nödvattenpunkter",
               "Skyddsrum med antal platser och reservvattenpunkter.")

    # Socio-economics: an Excel sheet per municipality, codes stored as numbers.
    pop = tat.groupby("mun_code")["pop"].sum()
    socio = pd.DataFrame({
        "Kommunkod": kommuner.code.astype(int),
        "Kommunnamn": kommuner.name,
        "Folkmangd_tatort_2020": kommuner.code.map(pop).fillna(0).astype(int),
        "Andel_65plus": np.round(rng.uniform(0.12, 0.27, len(kommuner)), 3),
        "Inkomstindex": np.round(rng.normal(100, 18, len(kommuner)), 1),
        "Arbetsloshet_proc": np.round(rng.uniform(3, 11, len(kommuner)), 1),
    })
    path = out / "socioekonomi_kommun.xlsx"
    socio.to_excel(path, index=False, sheet_name="Kommuner")
    write_meta(path, "socioeconomics", "Socioekonomi per kommun",
               "Befolkning i tätorter 2020 (SCB, verklig) samt syntetisk åldersstruktur, inkomst och arbetslöshet.")
    write_military(out, county)
    print(f"wrote illustrative layers to {out}")


# Two training areas for the sample's constraint layer (role = "exclude"), near where the real
# Kungsängen and Berga ones are (WGS 84 lon, lat) but drawn at random: not their real outlines.
MILITARY_SITES = (("Kungsängen", 17.70, 59.50, 2600.0), ("Berga", 18.12, 59.08, 2200.0))


def write_military(out: Path, county) -> None:
    """forsvar_ovningsomraden.gpkg: blob-shaped illustrative military training areas. A generator
    of its own (seed SEED + 1), so adding this file changed none of the files written before it."""
    from pyproj import Transformer

    rng = np.random.default_rng(SEED + 1)
    to_sweref = Transformer.from_crs(4326, 3006, always_xy=True)
    shapes, names = [], []
    for name, lon, lat, radius in MILITARY_SITES:
        centre = np.array(to_sweref.transform(lon, lat))
        walk = centre + np.cumsum(rng.normal(0, radius / 2, (5, 2)), axis=0)
        blob = shapely.linestrings(walk).buffer(radius).simplify(50).intersection(county)
        shapes.append(blob)
        names.append(f"Övningsområde {name}")
    gdf = gpd.GeoDataFrame({"namn": names}, geometry=shapes, crs=3006)
    path = out / "forsvar_ovningsomraden.gpkg"
    path.unlink(missing_ok=True)
    gdf.to_file(path, layer="ovningsomraden", driver="GPKG")
    Path(str(path) + ".meta.toml").write_text(
        f'sector = "civil_defence"\ntitle = "Militära övningsområden"\n'
        f'source = "Skikt sample_data/generate.py (seed {SEED + 1}), slumpade former nära Kungsängen och Berga"\n'
        f'licence = "CC0 (illustrative)"\nyear = 2026\n'
        f'description = "Övningsområden där satsningar inte kan komma i fråga: en restriktion (role = exclude), '
        f'inte en indikator. Illustrativ exempeldata – inte Försvarsmaktens verkliga områden."\nillustrative = true\n',
        encoding="utf-8")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write to (default: this one)")
    main(parser.parse_args().out)
