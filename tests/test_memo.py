"""The prioritisation memo (issue 11, item 6): a mock workshop on the sample — three groups, votes
from two of them, a pin and an area, two saved views — exported as a PDF whose text (read back
with poppler's pdftotext, or from matplotlib's text artists where poppler is missing) holds the
groups, the tallies and the comments.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import shapely
import tomlkit
from matplotlib.text import Text

from skikt.layers.captures import WorkshopStore
from skikt.layers.errors import SkiktError
from skikt.layers.groups import workspace_group_scores
from skikt.layers.memo import memo_figures, write_memo
from skikt.layers.project import read_project
from skikt.layers.workspace import Workspace

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"

WORKSHOP = """
[[groups]]
id = "kommunerna"
name = "Kommunerna"
colour = "#1f78b4"
weights = { vard = 30, transport = 40, kompetens = 20, kultur = 10 }

[[groups]]
id = "regionen"
name = "Region Stockholm"
colour = "#33a02c"
weights = { vard = 50, socio = 30, skyddsrum = 20 }

[[groups]]
id = "lansstyrelsen"
name = "Länsstyrelsen"
colour = "#e31a1c"
weights = { vattenskydd = 40, skyddsrum = 30, transport = 30 }

[[views]]
name = "region"
title = "Hela länet"

[[views]]
name = "sodertalje"
title = "Södertälje närmare"
extent = [640000, 6545000, 680000, 6580000]
"""

PIN_TEXT = "Vårdcentralen behöver bättre kollektivtrafik – 50 % saknar bil"
AREA_TEXT = "Här sammanfaller vård och transport ($-tecken ska stå kvar)"


@pytest.fixture(scope="module")
def workshop(tmp_path_factory):
    """The sample with three groups, votes for two groups, comments; the memo in sv and en."""
    root = tmp_path_factory.mktemp("workshop")
    folder = root / "sample"
    shutil.copytree(SAMPLE, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    path = folder / "sample_project.toml"
    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    for key in ("groups", "views"):  # the sample's own, if it has any: this test knows its numbers
        doc.pop(key, None)
    path.write_text(tomlkit.dumps(doc) + WORKSHOP, encoding="utf-8")
    project = read_project(path)
    ws = Workspace(project)
    ws.update()
    gs = workspace_group_scores(ws)
    order = np.argsort(-np.nan_to_num(gs.consensus.score, nan=-1), kind="stable")
    top = [str(ws.units.ids[i]) for i in order[:4]]
    with WorkshopStore.for_project(project, dots=5, units=ws.units.ids) as store:
        store.add_vote(top[0], "kommunerna", 3)
        store.add_vote(top[1], "kommunerna", 2)
        store.add_vote(top[0], "regionen", 2)
        store.add_vote(top[2], "regionen", 2)
        store.add_vote(top[3], "regionen", 1)
        x, y = ws.units.centres[order[0]]
        store.add_pin((x, y), PIN_TEXT, "kommunerna")
        store.add_area(shapely.box(x - 3000, y - 2000, x + 3000, y + 2000), AREA_TEXT, "regionen")
        store.log("scenario_switch", to="Vård först")
        store.log("weight_change", layer="transport", before=1, after=2)
        tally = store.tally(by_group=True)
    sv = write_memo(ws, root / "memo.pdf", day="2026-11-27")
    en = write_memo(project, root / "memo_en.pdf", lang="en", day="2026-11-27")
    return {"ws": ws, "project": project, "sv": sv, "en": en, "tally": tally, "root": root}


def _pdf_text(pdf: Path, ws, lang: str) -> str:
    if shutil.which("pdftotext"):
        return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                              check=True).stdout
    # No poppler: the same pages' text artists before saving (never skipped silently), one line per
    # height on the page, left to right, as pdftotext -layout would give them.
    lines = []
    for fig in memo_figures(ws, lang, day="2026-11-27"):
        rows: dict = {}
        for t in fig.findobj(Text):
            x, y = t.get_transform().transform(t.get_position())
            rows.setdefault(round(y), []).append((x, t.get_text()))
        lines += ["   ".join(s for _, s in sorted(row)) for _, row in sorted(rows.items(), reverse=True)]
    return "\n".join(lines)


def _votes_half(pdf: Path, text: str) -> str:
    """The left half of page 3 (the tally; the comments are on the right), where poppler can crop."""
    if not shutil.which("pdftotext"):
        return text
    return subprocess.run(["pdftotext", "-layout", "-f", "3", "-l", "3", "-x", "0", "-y", "0", "-W", "480", "-H", "595",
                           str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def test_memo_text_holds_the_groups_weights_and_tallies(workshop):
    text = _pdf_text(workshop["sv"], workshop["ws"], "sv")
    assert "Prioriteringsunderlag" in text and "2026-11-27" in text
    for name in ("Kommunerna", "Region", "Länsstyrelsen"):
        assert name in text
    # Kommunerna's points and shares on healthcare: 30 points of 100 = 30 %.
    # (pdftotext drops some spaces between narrow glyphs: compare without them)
    squeezed = {"".join(ln.split()) for ln in text.splitlines()}
    assert "Vårdcentraler,läkareochsjukhus30p·30%50p·50%0p·0%27%21%" in squeezed  # consensus (30+50+0)/3 %
    tally = workshop["tally"]
    assert tally.dots.tolist() == [5, 2, 2, 1]
    votes = _votes_half(workshop["sv"], text)
    for _, row in tally.iterrows():
        line = next(ln for ln in votes.splitlines() if row.unit_id in ln)
        numbers = re.findall(r"(?<![\w.])\d+(?![\w.])", line.split(")")[-1])
        assert numbers == [str(row.dots), str(row.kommunerna), str(row.regionen)], line
    assert "Röster" in text and "Kommentarer" in text
    flat = " ".join(text.split())
    assert "Vårdcentralen behöver bättre kollektivtrafik" in flat and "($-tecken ska stå kvar)" in flat
    assert "Samsyn" in text and "Oenighet" in text and "Slutliga vikter" in text
    assert "vikt ändrad: Investeringsstråk: 1 → 2" in flat and "scenario bytt: – → Vård först" in flat


def test_memo_in_english(workshop):
    text = _pdf_text(workshop["en"], workshop["ws"], "en")
    assert "Prioritisation memo" in text and "Final weights" in text and "Votes (dots) per unit" in text
    assert "Prioriteringsunderlag" not in text
    for name in ("Kommunerna", "Region", "Länsstyrelsen"):
        assert name in text


def test_memo_pages_and_views(workshop):
    text = _pdf_text(workshop["sv"], workshop["ws"], "sv")
    # weights, maps, votes and comments, one page of views
    assert "Sida 4 av 4" in text
    assert "Hela länet" in text and "Södertälje närmare" in text
    if shutil.which("pdftoppm"):
        out = workshop["root"] / "page"
        subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "2", "-l", "2", str(workshop["sv"]), str(out)],
                       check=True)
        png = next(workshop["root"].glob("page*.png"))
        import matplotlib.image as mpimg

        img = mpimg.imread(png)
        assert img.shape[1] > img.shape[0]  # A4 landscape
        assert (img[..., :3].std(axis=2) > 0.05).mean() > 0.05  # the maps are in colour, not a blank page


def test_memo_refuses_inputs_and_wrong_formats(workshop):
    project = workshop["project"]
    with pytest.raises(SkiktError) as err:
        write_memo(project, project.path.with_name("vattenforsorjning.gpkg"))
    assert "\n" not in str(err.value)
    with pytest.raises(SkiktError, match="memo"):
        write_memo(project, workshop["root"] / "memo.docx")


def test_memo_without_groups_or_captures(tmp_path):
    folder = tmp_path / "s"
    shutil.copytree(SAMPLE, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    path = folder / "sample_project.toml"
    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    for key in ("groups", "views"):
        doc.pop(key, None)
    path.write_text(tomlkit.dumps(doc), encoding="utf-8")
    project = read_project(path)
    ws = Workspace(project)
    ws.update()
    figures = memo_figures(ws, "sv", day="2026-11-27")
    texts = [t.get_text() for fig in figures for t in fig.findobj(Text)]
    assert len(figures) == 2 and "Grupp: inga" in texts and "Sida 2 av 2" in texts
    assert not (folder / "sample_project.workshop.gpkg").exists()  # a memo never creates the workshop file


SQUARES = """schema_version = 1
[project]
title = "Tre rutor"

[[layers]]
id = "rutor"
path = "rutor.gpkg"
layer = "rutor"
sector = "reference"

[[layers]]
id = "x1"
path = "rutor.gpkg"
layer = "rutor"
sector = "healthcare"
[layers.indicator]
method = "attribute"
column = "x1"
normalize = "minmax"
weight = 1

[[layers]]
id = "x2"
path = "rutor.gpkg"
layer = "rutor"
sector = "transport"
[layers.indicator]
method = "attribute"
column = "x2"
normalize = "minmax"
weight = 1

[units]
kind = "areas"
layer = "rutor"
id = "code"
classes = 3

[[groups]]
id = "g1"
name = "Vårdgruppen"
colour = "#1f78b4"
weights = { x1 = 40 }

[[groups]]
id = "g2"
name = "Trafikgruppen"
colour = "#e31a1c"
weights = { x2 = 60 }
"""


def test_area_units_by_hand_and_their_memo(tmp_path):
    """Three squares a | b | c; x1 = 0, 5, 10 and x2 = 10, 0, 5, min–max normalised to 0, ½, 1 and 1, 0, ½.
    g1 scores 0, ½, 1 (percentiles 0, ½, 1); g2 scores 1, 0, ½ (percentiles 1, 0, ½); spread 1, ½, ½.
    Consensus (½, ½): ½, ¼, ¾ → ranks 2, 3, 1. With 3 classes each group's top class is one unit
    (c for g1, a for g2), so the short list is empty."""
    from skikt.layers.groups import score_table_with_groups

    boxes = [shapely.box(600_000 + i * 1000, 6_600_000, 600_000 + (i + 1) * 1000, 6_601_000) for i in range(3)]
    import geopandas as gpd

    gpd.GeoDataFrame({"code": ["a", "b", "c"], "name": ["Aby", "Bby", "Cby"], "x1": [0.0, 5.0, 10.0],
                      "x2": [10.0, 0.0, 5.0]}, geometry=boxes, crs=3006).to_file(tmp_path / "rutor.gpkg", layer="rutor")
    (tmp_path / "p.toml").write_text(SQUARES, encoding="utf-8")
    ws = Workspace(read_project(tmp_path / "p.toml"))
    ws.update()
    table = score_table_with_groups(ws)
    np.testing.assert_allclose(table["g1_score"], [0, 0.5, 1], atol=1e-6)
    np.testing.assert_allclose(table["g2_score"], [1, 0, 0.5], atol=1e-6)
    assert list(table["consensus_rank"]) == [2, 3, 1]
    np.testing.assert_allclose(table["consensus_score"], [0.5, 0.25, 0.75], atol=1e-6)
    np.testing.assert_allclose(table["rank_spread"], [1, 0.5, 0.5], atol=1e-9)
    with WorkshopStore.for_project(ws.project, dots=3, units=ws.units.ids) as store:
        store.add_vote("c", "g1", 3)
        store.add_vote("a", "g2", 2)
    pdf = write_memo(ws, tmp_path / "memo.pdf", day="2026-11-27")
    text = _pdf_text(pdf, ws, "sv")
    flat = " ".join(text.split())
    assert "Vårdgruppen" in text and "Trafikgruppen" in text and "I alla gruppers högsta klass: 0 av 3 enheter" in flat
    votes = _votes_half(pdf, text)
    assert re.search(r"Cby \(c\)\s+3\s+3\s+0", votes) and re.search(r"Aby \(a\)\s+2\s+0\s+2", votes)


def _texts_outside_the_page(figures) -> list[str]:
    """Texts whose drawn extent leaves the page (what a reader would see cut off)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    out = []
    for fig in figures:
        FigureCanvasAgg(fig).draw()  # legends place their texts when drawn
        renderer = fig.canvas.get_renderer()
        page = fig.bbox
        for t in fig.findobj(Text):
            if not t.get_text() or not t.get_visible():
                continue
            box = t.get_window_extent(renderer)
            if box.x0 < page.x0 - 1 or box.x1 > page.x1 + 1 or box.y0 < page.y0 - 1 or box.y1 > page.y1 + 1:
                out.append(t.get_text()[:60])
    return out


def test_a_long_meeting_log_reads_in_words_and_gets_pages_of_its_own(tmp_path):
    """Sixty entries as the app logs them: settled weight changes, consensus (every layer at once),
    scenario switches from a view and from presentation mode, group edits, undos, start and end.
    Page 1 shows the newest that fit; the whole log follows the votes; nothing leaves the page."""
    folder = tmp_path / "s"
    shutil.copytree(SAMPLE, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    project = read_project(folder / "sample_project.toml")
    ws = Workspace(project)
    ws.update()
    ids = [s.id for s in project.indicator_layers()]
    with WorkshopStore.for_project(project) as store:
        store.log("note", meeting="start")
        for i in range(14):
            store.log("weight_change", layer="vard", before=3 + i, after=4 + i)
            store.log("weight_change", changes={lid: [2.0, 1.234 + j] for j, lid in enumerate(ids)}, source="consensus")
            store.log("scenario_switch", **{"from": "-", "to": "Beredskap", "view": f"Vy {i}",
                                            "source": "presentation"})
            store.log("note", what="group", group="regionen", layer="kultur", before=10, after=20 + i)
        store.log("undo", what="Konsensusvikter")
        store.log("note", what="group", group="regionen", added="Regionen")
        store.log("note", meeting="end")
        figures = memo_figures(ws, "sv", store=store, day="2026-11-27")
        pdf = write_memo(ws, tmp_path / "memo.pdf", store=store, day="2026-11-27")
    texts = "\n".join(t.get_text() for fig in figures for t in fig.findobj(Text))
    flat = " ".join(texts.split())
    assert "tidigare poster" in flat
    log_pages = [fig for fig in figures if any(t.get_text() == "Beslutslogg: vikter och scenarier under mötet"
                                               for t in fig.findobj(Text))]
    assert len(log_pages) >= 2  # page 1's section and at least one page of its own
    # Every entry in words (details are data: layer titles, not ids; no "key = value").
    assert "vikt ändrad: Vårdcentraler, läkare och sjukhus: 16 → 17" in flat
    assert "Investeringsstråk 2 → 2,2" in flat and "(konsensus)" in flat
    assert "scenario bytt: Projektets vikter → Beredskap (vy Vy 13) (i presentationsläget)" in flat
    assert "Regionen: Kulturplatser 10 → 33 p" in flat
    assert "ångrat: Konsensusvikter" in flat and "mötet började" in flat and "mötet avslutades" in flat
    assert " = " not in texts.split("Beslutslogg")[-1]
    assert _texts_outside_the_page(figures) == []
    assert pdf.exists()


def test_no_text_leaves_the_page_in_the_workshop_memo(workshop):
    assert _texts_outside_the_page(memo_figures(workshop["ws"], "sv", day="2026-11-27")) == []
    assert _texts_outside_the_page(memo_figures(workshop["ws"], "en", day="2026-11-27")) == []


def test_memo_disagreement_map_uses_the_apps_classes_and_labels(workshop):
    from skikt.layers.groups import disagreement_map

    figures = memo_figures(workshop["ws"], "sv", day="2026-11-27")
    labels = [t.get_text() for t in figures[1].findobj(Text)]
    um = disagreement_map(workspace_group_scores(workshop["ws"]), "sv")
    for label in um.labels:
        assert label in labels


def test_the_memo_reports_each_page_and_a_cancel_between_pages_leaves_no_file(workshop):
    """Mock workshop: the bar sat at 5 % for four minutes and Cancel was heard only after every
    page had been drawn. Now each page built and each page written is one step, and Cancel between
    two pages stops the memo with nothing written (no file, no temporary folder)."""
    from skikt.layers.memo import iter_write_memo
    from skikt.layers.workspace import Cancelled

    folder = workshop["root"] / "steps"
    folder.mkdir()
    steps = iter_write_memo(workshop["ws"], folder / "memo.pdf", day="2026-11-27")
    fractions = []
    while True:
        try:
            fractions.append(next(steps))
        except StopIteration as done:
            out = done.value
            break
    n_pages = 4  # weights, maps, votes and comments, one page of views (test_memo_pages_and_views)
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", out.read_bytes())) == n_pages
    assert len(fractions) == 2 * n_pages  # one step per page built, one per page written
    assert fractions == sorted(fractions) and 0 < fractions[0] < 0.6 and fractions[-1] == 1.0
    assert len(set(fractions)) == len(fractions)

    asked = []

    def cancel():
        asked.append(1)
        return len(asked) >= 2  # the second check: after page 1 is built, before page 2 is used

    cancelled = iter_write_memo(workshop["ws"], folder / "cancelled.pdf", day="2026-11-27", cancel=cancel)
    seen = []
    with pytest.raises(Cancelled):
        for fraction in cancelled:
            seen.append(fraction)
    assert len(seen) == 1  # stopped between the first and the second page
    assert sorted(p.name for p in folder.iterdir()) == ["memo.pdf"]


def test_memo_priority_maps_hatch_the_excluded_cells(workshop):
    """The sample's training areas (role = "exclude") leave cells without a class; the memo's
    priority maps hatch exactly those cells, as the app and the export do, and the legend says why.
    Oracle: cell centres from the hatch image's own extent, tested against the areas with geopandas."""
    import geopandas as gpd

    from skikt.layers.render import HatchImage

    figures = memo_figures(workshop["ws"], "sv", day="2026-11-27")
    maps = [ax for ax in figures[1].axes if ax.get_title(loc="left").startswith("Samsyn")]
    assert len(maps) == 1
    hatches = [a for a in maps[0].get_children() if isinstance(a, HatchImage)]
    assert len(hatches) == 1
    cells = hatches[0]._cells
    x0, x1, y0, y1 = hatches[0].get_extent()
    size = (x1 - x0) / cells.shape[1]
    rows, cols = np.nonzero(cells)  # row 0 is the southern row
    centres = gpd.GeoDataFrame(geometry=shapely.points(x0 + (cols + 0.5) * size, y0 + (rows + 0.5) * size), crs=3006)
    areas = gpd.read_file(workshop["root"] / "sample" / "forsvar_ovningsomraden.gpkg", layer="ovningsomraden")
    inside = gpd.sjoin(centres, areas[["geometry"]], predicate="within").index.unique()
    assert size == 500 and len(centres) == 254 and len(inside) == 254
    # Every cell of the county whose centre lies in an area is hatched: 254 in all (see test_scenarios).
    labels = [t.get_text() for t in maps[0].get_legend().get_texts()]
    assert labels[-1] == "Undantaget: Militära övningsområden"


def test_the_memo_flags_groups_whose_points_differ_from_the_meeting_log(tmp_path):
    """Mock workshop (shots_1280_memo): points typed in the meeting were logged but never saved,
    so the memo's table (the project file) contradicted its log. The memo now says so, naming the
    groups; a log that ends where the project stands says nothing."""
    folder = tmp_path / "s"
    shutil.copytree(SAMPLE, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    project = read_project(folder / "sample_project.toml")
    ws = Workspace(project)
    ws.update()
    points = {g["id"]: g["weights"] for g in project.extra["groups"]}
    assert points["regionen"]["kultur"] == 10 and points["kommunerna"]["socio"] == 30  # the sample's file

    def flagged(store) -> list[str]:
        texts = [t.get_text() for t in memo_figures(ws, "sv", store=store, day="2026-11-27")[0].findobj(Text)]
        return [t for t in texts if "skiljer sig från mötesloggen" in t]

    with WorkshopStore.for_project(project) as store:
        # Edited and back again: the last logged value is the file's; an edit of a layer the
        # group gave nothing, ending at 0, is also the file's.
        store.log("note", what="group", group="regionen", layer="kultur", before=10, after=25)
        store.log("note", what="group", group="regionen", layer="kultur", before=25, after=10)
        store.log("note", what="group", group="lansstyrelsen", layer="kultur", before=0, after=5)
        store.log("note", what="group", group="lansstyrelsen", layer="kultur", before=5, after=0)
        assert flagged(store) == []
        store.log("note", what="group", group="kommunerna", layer="socio", before=30, after=10)
        store.log("note", what="group", group="naringslivet", added="Näringslivet")
        got = flagged(store)
    assert len(got) == 1 and got[0].startswith("Obs: gruppernas poäng i projektfilen skiljer sig från mötesloggen")
    assert got[0].endswith(": Kommunerna, Näringslivet")
