"""Print pages (issue 10, item 4; issue 9, item 12): paper sizes, text that never clips, saved
views and the handout, attribution lines. Independent oracles: ISO 216 millimetres, the PNG's
own header, the PDF's MediaBox, the renderer's measured extents after a full draw, the sample's
TOML read with tomllib, and weighted means computed here with numpy."""

from __future__ import annotations

import re
import struct
import tomllib

import numpy as np
import pytest
from matplotlib.text import Text

from skikt.layers.export import PageSpec, compose_figure, compose_handout, compose_map, page_content, project_views


def png_size(path) -> tuple[int, int]:
    """Width and height from the IHDR chunk (bytes 16–24 of every PNG)."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def media_boxes(path) -> list[tuple[float, float]]:
    boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", path.read_bytes())
    return [(float(w), float(h)) for w, h in boxes]


def all_texts(fig) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def joined(text: str) -> str:
    return " ".join(text.split())


def assert_nothing_clips(fig):
    """Every text lies inside the page and inside the panel it belongs to, measured after a full
    draw with the renderer that draws it."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    W, H = fig.bbox.width, fig.bbox.height
    panels = fig.skikt_panels
    texts = all_texts(fig)
    assert texts
    for t in texts:
        box = t.get_window_extent(renderer)
        assert box.x0 >= -0.5 and box.y0 >= -0.5 and box.x1 <= W + 0.5 and box.y1 <= H + 0.5, (t.get_text(), box)
        name = getattr(t, "skikt_panel", None)
        assert name in panels, f"text {t.get_text()!r} belongs to no panel"
        assert panels[name].holds(box), (t.get_text(), name, box, panels[name])


# ------------------------------------------------------------------------------------------------
# Sizes


@pytest.mark.parametrize("paper, landscape, dpi, mm", [
    ("A4", True, 300, (297, 210)), ("A3", True, 300, (420, 297)), ("A4", False, 300, (210, 297)),
    ("A3", True, 150, (420, 297)),
])
def test_paper_pixels_follow_iso_216(paper, landscape, dpi, mm):
    page = PageSpec(paper=paper, landscape=landscape, dpi=dpi)
    assert page.pixels == (round(mm[0] / 25.4 * dpi), round(mm[1] / 25.4 * dpi))


def test_a4_and_a3_at_300_dpi_are_the_sizes_printers_expect(sample_ws, tmp_path):
    assert PageSpec(paper="A4", dpi=300).pixels == (3508, 2480)
    assert PageSpec(paper="A3", dpi=300).pixels == (4961, 3508)
    out = compose_map(sample_ws, tmp_path / "a4.png", page=PageSpec(paper="A4", dpi=300), day="2026-01-01")
    assert png_size(out) == (3508, 2480)


def test_a_pdf_defaults_to_a4_landscape_not_768_by_480_points(sample_ws, tmp_path):
    out = compose_map(sample_ws, tmp_path / "k.pdf", day="2026-01-01")
    (w, h), = media_boxes(out)
    assert w == pytest.approx(297 / 25.4 * 72, abs=0.01) and h == pytest.approx(210 / 25.4 * 72, abs=0.01)
    # A screen-sized PNG keeps its pixels (the app and --size), as before.
    assert png_size(compose_map(sample_ws, tmp_path / "k.png", size=(640, 400), dpi=100)) == (640, 400)


# ------------------------------------------------------------------------------------------------
# Text never clips


def test_1280x720_english_page_clips_no_text(sample_ws):
    """Issue 9 item 12: the legend entry and the licence line were cut at this size."""
    page = PageSpec(paper=None, size=(1280, 720), dpi=150)
    fig = compose_figure(sample_ws, page, page_content(sample_ws, lang="en"), lang="en", day="2026-01-01")
    assert_nothing_clips(fig)
    texts = [joined(t.get_text()) for t in all_texts(fig)]
    assert "Vattenskyddsområden (illustrative)" in texts
    footer = " ".join(joined(t.get_text()) for t in all_texts(fig) if t.skikt_panel == "footer")
    assert "© OpenStreetMap contributors, ODbL 1.0" in footer
    assert "Statistiska centralbyrån (SCB), digitala gränser 2024 och tätorter 2020, CC0" in footer


@pytest.mark.parametrize("size", [(400, 300), (1280, 720), (720, 1280)])
def test_long_user_texts_wrap_or_shrink_but_stay_whole_inside_their_panels(sample_ws, size):
    rng = np.random.default_rng(9)
    words = ["Kommunöverskridande", "prioritering", "av", "vård", "och", "beredskap", "i", "Stockholms", "län",
             "Ovanligtlångtsammansattordutanmellanrumsomintekanbrytasvidettmellanslag"]
    title = " ".join(rng.choice(words, 40))
    subtitle = " ".join(rng.choice(words, 60))
    page = PageSpec(paper=None, size=size, dpi=100)
    content = page_content(sample_ws, title=title, subtitle=subtitle, lang="sv")
    fig = compose_figure(sample_ws, page, content, lang="sv", day="2026-01-01")
    assert_nothing_clips(fig)


@pytest.mark.parametrize("paper, landscape", [("A3", True), ("A4", False)])
def test_print_pages_clip_no_text_and_the_legend_reads_at_print_size(sample_ws, paper, landscape):
    page = PageSpec(paper=paper, landscape=landscape, dpi=50)  # the layout is in inches: dpi does not matter
    fig = compose_figure(sample_ws, page, page_content(sample_ws, view=project_views(sample_ws.project)[1]),
                         day="2026-01-01")
    assert_nothing_clips(fig)
    legend = fig.legends[0]
    sizes = [t.get_fontsize() for t in legend.get_texts()]
    assert min(sizes) >= 6.0  # points on paper: readable in print
    panels = fig.skikt_panels
    if not landscape:  # the legend under the map takes only the height it needs; the map the rest
        fig.canvas.draw()
        box = legend.get_window_extent(fig.canvas.get_renderer())
        assert panels["map"].y0 > panels["legend"].y1 and box.y0 >= panels["legend"].y0 - 0.5
        assert panels["map"].height > 3 * panels["legend"].height


# ------------------------------------------------------------------------------------------------
# Views, scenarios and the handout


def sample_toml(ws) -> dict:
    with open(ws.project.path, "rb") as f:
        return tomllib.load(f)


def weighted_mean(ws, weights: dict) -> np.ndarray:
    """Σ wᵢ·nᵢ / Σ wᵢ over the indicators a unit has a value for (NaN where it has none)."""
    norm = np.asarray(ws.normalised.norm, float)
    w = np.array([weights[lid] for lid in ws.normalised.layer_ids], float)[:, None]
    valid = ~np.isnan(norm)
    total = (np.where(valid, w, 0)).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.nansum(np.where(valid, norm * w, 0), axis=0) / total, np.nan)


def test_a_view_shows_its_extent_its_layers_and_its_scenario_weights(sample_ws):
    raw = sample_toml(sample_ws)
    view = next(v for v in raw["views"] if v.get("scenario"))
    scenario = next(s for s in raw["scenarios"] if s["name"] == view["scenario"])
    weights = {spec["id"]: spec["indicator"]["weight"] for spec in raw["layers"] if "indicator" in spec}
    weights.update(scenario["weights"])
    content = page_content(sample_ws, view=next(v for v in project_views(sample_ws.project) if v.name == view["name"]))
    expected = weighted_mean(sample_ws, weights)
    scored = ~np.isnan(expected)
    assert np.allclose(np.asarray(content.result.score, float)[scored], expected[scored], atol=1e-5)
    assert content.title == view["title"] and content.subtitle == view["subtitle"]
    assert content.notes == view["notes"].strip()
    assert [s.id for s in content.project.layers if s.visible] == [
        s["id"] for s in raw["layers"] if s["id"] in view["layers"]]
    xmin, ymin, xmax, ymax = view["extent"]
    assert content.extent == (xmin, xmax, ymin, ymax)
    # The workspace the app shows is left as it was.
    assert np.allclose(weighted_mean(sample_ws, {s["id"]: s["indicator"]["weight"] for s in raw["layers"]
                                                 if "indicator" in s})[scored],
                       np.asarray(sample_ws.composite.score, float)[scored], atol=1e-5)


def test_scenario_option_wins_over_the_views_and_names_itself_in_the_subtitle(sample_ws):
    raw = sample_toml(sample_ws)
    other = raw["scenarios"][1]
    weights = {spec["id"]: spec["indicator"]["weight"] for spec in raw["layers"] if "indicator" in spec}
    weights.update(other["weights"])
    content = page_content(sample_ws, scenario=other["name"], lang="en")
    expected = weighted_mean(sample_ws, weights)
    scored = ~np.isnan(expected)
    assert np.allclose(np.asarray(content.result.score, float)[scored], expected[scored], atol=1e-5)
    assert other["name"] in content.subtitle


def test_all_views_handout_has_one_page_per_view_each_with_its_notes(sample_ws, tmp_path):
    raw = sample_toml(sample_ws)
    views = project_views(sample_ws.project)
    assert [v.name for v in views] == [v["name"] for v in raw["views"]]
    page = PageSpec(paper="A4", dpi=50)
    out = compose_handout(sample_ws, tmp_path / "h.pdf", views, page=page, day="2026-01-01")
    boxes = media_boxes(out)
    assert len(boxes) == len(raw["views"])
    assert all(b == pytest.approx((297 / 25.4 * 72, 210 / 25.4 * 72), abs=0.01) for b in boxes)
    for view, entry in zip(views, raw["views"]):
        fig = compose_figure(sample_ws, page, page_content(sample_ws, view=view), day="2026-01-01", notes=True,
                             raster=False)
        assert_nothing_clips(fig)
        notes = " ".join(joined(t.get_text()) for t in all_texts(fig) if t.skikt_panel == "notes")
        assert joined(entry["notes"]) in notes.replace(" …", "")
        assert joined(entry["title"]) in [joined(t.get_text()) for t in all_texts(fig)]


# ------------------------------------------------------------------------------------------------
# Attribution


def test_one_attribution_line_per_source_of_the_layers_shown(sample_ws):
    from skikt.layers.export import attribution_lines

    raw = sample_toml(sample_ws)
    view = next(v for v in project_views(sample_ws.project) if v.layers and "vard" in v.layers)
    content = page_content(sample_ws, view=view, lang="sv")
    lines = attribution_lines(sample_ws, "sv", content.project, composite=True)
    # Every layer shown or weighted is named on exactly one line, with its own source and licence.
    weighted = {s["id"] for s in raw["layers"] if "indicator" in s
                and (s["indicator"].get("weight", 1.0) > 0)}
    for spec in sample_ws.project.layers:
        meta = sample_ws.layers[spec.id].meta
        if spec.id not in weighted and spec.id not in view.layers:
            continue
        title = spec.title + (" (illustrativ)" if meta.illustrative else "")
        credit = ", ".join(x for x in (meta.source, meta.licence) if x)
        naming = [ln for ln in lines if title in ln.split(": " + credit)[0].split(" · ")]
        assert len(naming) == 1 and naming[0].endswith(": " + credit), (title, lines)
    assert any("© OpenStreetMap contributors, ODbL" in ln for ln in lines)
    assert any("Statistiska centralbyrån" in ln and ln.endswith("CC0") for ln in lines)
    assert lines[-1] == "Lager märkta illustrativ är exempeldata, inte officiella uppgifter."


def test_a_layer_without_a_source_says_so(sample_ws):
    from skikt.layers.export import attribution_lines

    project = sample_ws.project.copy()
    meta = sample_ws.layers["vard"].meta
    kept = (meta.source, meta.licence)
    try:
        meta.source, meta.licence = "", ""
        lines = attribution_lines(sample_ws, "en", project)
    finally:
        meta.source, meta.licence = kept
    assert f"{project.layer('vard').title}: no source given" in lines


def test_a_paper_too_large_for_memory_names_paper_and_dpi_not_size(sample_ws, tmp_path, monkeypatch):
    from skikt.layers import safe_write
    from skikt.layers.errors import SkiktError

    monkeypatch.setattr(safe_write, "available_memory", lambda: 100 * 2**20)
    with pytest.raises(SkiktError) as caught:
        compose_map(sample_ws, tmp_path / "k.png", page=PageSpec(paper="A3", dpi=1200))
    w, h = round(420 / 25.4 * 1200), round(297 / 25.4 * 1200)
    assert f"--paper A3 --dpi 1200 ({w}x{h} pixels) needs about {w * h * 12 // 2**20} MB" in str(caught.value)
    assert "100 MB is available" in str(caught.value) and not list(tmp_path.iterdir())


def test_scenario_option_over_a_view_with_another_scenario_takes_the_projects_weights_as_its_base(sample_ws):
    raw = sample_toml(sample_ws)
    view = next(v for v in project_views(sample_ws.project) if v.scenario)
    other = next(s for s in raw["scenarios"] if s["name"] != view.scenario)
    weights = {spec["id"]: spec["indicator"]["weight"] for spec in raw["layers"] if "indicator" in spec}
    weights.update(other["weights"])  # ids the scenario leaves out keep the project's weight
    content = page_content(sample_ws, view=view, scenario=other["name"])
    assert {s.id: s.indicator.weight for s in content.project.indicator_layers()} == weights
    expected = weighted_mean(sample_ws, weights)
    scored = ~np.isnan(expected)
    assert np.allclose(np.asarray(content.result.score, float)[scored], expected[scored], atol=1e-5)
    assert content.extent == (view.extent[0], view.extent[2], view.extent[1], view.extent[3])


def test_scenario_dash_is_the_projects_own_weights_even_on_a_view_with_a_scenario(sample_ws):
    raw = sample_toml(sample_ws)
    view = next(v for v in project_views(sample_ws.project) if v.scenario)
    weights = {spec["id"]: spec["indicator"]["weight"] for spec in raw["layers"] if "indicator" in spec}
    content = page_content(sample_ws, view=view, scenario="-", subtitle=None, lang="en")
    assert {s.id: s.indicator.weight for s in content.project.indicator_layers()} == weights
    expected = weighted_mean(sample_ws, weights)
    scored = ~np.isnan(expected)
    assert np.allclose(np.asarray(content.result.score, float)[scored], expected[scored], atol=1e-5)
    assert content.scenario is None


def _water_zone_collections(fig, ws):
    """The map's collections drawn for the sample's water-protection zones (a single-colour
    polygon layer), recognised by their path count: one path per zone."""
    from matplotlib.collections import LineCollection, PolyCollection

    zones = len(ws.layers["vattenskydd"].geo)
    return [c for ax in fig.axes for c in ax.collections
            if isinstance(c, PolyCollection) and not isinstance(c, LineCollection) and len(c.get_paths()) == zones]


def test_single_colour_areas_are_outlines_over_the_priority_map_and_fills_without_it(sample_ws):
    """Issue 9 item 3 on the printed page: light-blue zones filled over red classes read as purple,
    a class that does not exist."""
    page = PageSpec(size=(1280, 720), dpi=100)
    with_map = compose_figure(sample_ws, page, page_content(sample_ws), day="2026-01-01")
    over = _water_zone_collections(with_map, sample_ws)
    assert over and all((c.get_facecolor()[:, 3] == 0).all() for c in over)
    assert all((c.get_linewidth() >= 1.6).all() for c in over)
    without = compose_figure(sample_ws, page, page_content(sample_ws, composite=False), day="2026-01-01")
    alone = _water_zone_collections(without, sample_ws)
    assert alone and all((c.get_facecolor()[:, 3] > 0).all() for c in alone)
