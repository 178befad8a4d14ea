"""The one translation mechanism for every user-visible string, in the app and in exported maps.

Swedish is the default. Keys are short English identifiers; a missing Swedish text falls back to
English, and a missing key shows the key itself (so gaps are visible, never a crash). Messages
may contain ``{name}`` fields filled with ``str.format`` on our own values only.
"""

from __future__ import annotations

DEFAULT_LANG = "sv"
LANGUAGES = {"sv": "Svenska", "en": "English"}

_TEXT: dict[str, tuple[str, str]] = {
    # key: (Swedish, English)
    "app_title": ("Skikt – lager för regional prioritering", "Skikt – layers for regional priorities"),
    "class_highest": ("Högst prioritet", "Highest priority"),
    "class_lowest": ("Lägst prioritet", "Lowest priority"),
    "class_n": ("Klass {n}", "Class {n}"),
    "other": ("Övrigt", "Other"),
    "priority_map": ("Prioriteringskarta", "Priority map"),
    "illustrative": ("illustrativ", "illustrative"),
    "illustrative_note": ("Lager märkta illustrativ är exempeldata, inte officiella uppgifter.",
                          "Layers marked illustrative are sample data, not official figures."),
    "weights": ("Vikter", "Weights"),
    "legend": ("Teckenförklaring", "Legend"),
    "layers": ("Lager", "Layers"),
    "info": ("Info", "Info"),
    "charts": ("Diagram", "Charts"),
    "file": ("&Arkiv", "&File"),
    "edit": ("&Redigera", "&Edit"),
    "view": ("&Visa", "&View"),
    "help": ("&Hjälp", "&Help"),
    "open_project": ("Öppna projekt…", "Open project…"),
    "save_project": ("Spara projekt", "Save project"),
    "save_project_as": ("Spara projekt som…", "Save project as…"),
    "add_layer": ("Lägg till lager…", "Add layer…"),
    "export_map": ("Exportera karta…", "Export map…"),
    "export_scores": ("Exportera poäng…", "Export scores…"),
    "quit": ("Avsluta", "Quit"),
    "undo": ("Ångra", "Undo"),
    "redo": ("Gör om", "Redo"),
    "language": ("Språk", "Language"),
    "full_extent": ("Hela utbredningen", "Full extent"),
    "zoom_layer": ("Zooma till lager", "Zoom to layer"),
    "zoom_in_box": ("Zooma med ruta", "Zoom to box"),
    "style": ("Stil…", "Style…"),
    "properties": ("Egenskaper och metadata…", "Properties and metadata…"),
    "remove": ("Ta bort", "Remove"),
    "labels": ("Etiketter", "Labels"),
    "full_screen": ("Helskärm", "Full screen"),
    "show_composite": ("Visa prioriteringskarta", "Show priority map"),
    "direction_high": ("Högt värde = hög prioritet", "High value = high priority"),
    "direction_low": ("Lågt värde = hög prioritet", "Low value = high priority"),
    "score": ("Poäng", "Score"),
    "rank": ("Rang", "Rank"),
    "of": ("av", "of"),
    "raw": ("Rått värde", "Raw value"),
    "normalised": ("Normaliserat", "Normalised"),
    "weight": ("Vikt", "Weight"),
    "contribution": ("Bidrag", "Contribution"),
    "overlap": ("Sektorer i toppklass", "Sectors in top class"),
    "class": ("Klass", "Class"),
    "unit": ("Enhet", "Unit"),
    "top_units": ("Högst rankade enheter", "Top-ranked units"),
    "unit_profile": ("Sektorprofil för vald enhet", "Sector profile of selected unit"),
    "export_png": ("Exportera PNG…", "Export PNG…"),
    "click_map": ("Klicka i kartan för att se vad som finns där.", "Click the map to see what is there."),
    "computing": ("Beräknar", "Computing"),
    "ready": ("Klar", "Ready"),
    "cancel": ("Avbryt", "Cancel"),
    "reading": ("Läser filen…", "Reading the file…"),
    "cancelled": ("Avbrutet", "Cancelled"),
    "error": ("Fel", "Error"),
    "could_not_load": ("Kunde inte läsa in", "Could not load"),
    "sector": ("Sektor", "Sector"),
    "title": ("Titel", "Title"),
    "crs": ("Koordinatsystem", "Coordinate system"),
    "crs_missing": ("Filen saknar koordinatsystem. Välj vilket den använder:",
                    "The file has no coordinate system. Choose the one it uses:"),
    "add_layer_title": ("Lägg till lager", "Add layer"),
    "layer_in_file": ("Lager i filen", "Layer in file"),
    "join_to": ("Koppla tabell till områden", "Join table to areas"),
    "area_layer": ("Områdeslager", "Area layer"),
    "table_key": ("Nyckel i tabellen", "Key in table"),
    "area_key": ("Nyckel i områdeslagret", "Key in area layer"),
    "match_preview": ("Matchning", "Match"),
    "indicator": ("Indikator", "Indicator"),
    "method": ("Metod", "Method"),
    "column": ("Kolumn", "Column"),
    "none": ("Ingen", "None"),
    "mode_single": ("Enkel symbol", "Single symbol"),
    "mode_categorized": ("Kategoriserad", "Categorized"),
    "mode_graduated": ("Graderad", "Graduated"),
    "classes_n": ("Antal klasser", "Number of classes"),
    "palette": ("Färgskala", "Palette"),
    "scheme": ("Klassindelning", "Classification"),
    "opacity": ("Opacitet", "Opacity"),
    "colour": ("Färg", "Colour"),
    "source": ("Källa", "Source"),
    "licence": ("Licens", "Licence"),
    "year": ("År", "Year"),
    "description": ("Beskrivning", "Description"),
    "features": ("objekt", "features"),
    "warnings": ("Varningar", "Warnings"),
    "no_features_here": ("Inga objekt här.", "No features here."),
    "layer_added": ("Lager tillagt: {name}", "Layer added: {name}"),
    "cmd_add": ("Lägg till {name}", "Add {name}"),
    "cmd_remove": ("Ta bort {name}", "Remove {name}"),
    "cmd_move": ("Flytta {name}", "Move {name}"),
    "cmd_style": ("Ändra stil för {name}", "Change style of {name}"),
    "cmd_weight": ("Vikt för {name}", "Weight of {name}"),
    "cmd_visible": ("Synlighet för {name}", "Visibility of {name}"),
    "cmd_opacity": ("Opacitet för {name}", "Opacity of {name}"),
    "cmd_indicator": ("Indikator för {name}", "Indicator of {name}"),
    "sensitivity": ("Känslighet", "Sensitivity"),
    "stability_map": ("Visa stabilitet (känslighet ±10 %)", "Show stability (sensitivity ±10 %)"),
    "stable": ("Stabil", "Stable"),
    "unstable": ("Byter klass", "Changes class"),
    "saved": ("Sparat: {path}", "Saved: {path}"),
    "unsaved_changes": ("Projektet har osparade ändringar. Spara?", "The project has unsaved changes. Save?"),
    "attribution": ("Underlag", "Data"),
    "about": ("Om Skikt", "About Skikt"),
    "scheme_quantiles": ("Kvantiler", "Quantiles"),
    "scheme_equal_interval": ("Lika intervall", "Equal interval"),
    "scheme_natural_breaks": ("Naturliga brytpunkter", "Natural breaks"),
    "scheme_std_mean": ("Standardavvikelse", "Standard deviation"),
    "norm_minmax": ("min–max", "min–max"),
    "norm_rank": ("rang (percentil)", "rank (percentile)"),
    "norm_zscore": ("z-värde", "z-score"),
    "norm_classes": ("klasser", "classes"),
    "symbol_size": ("Symbolstorlek", "Symbol size"),
    "outline": ("Kontur", "Outline"),
    "sector_colour": ("Sektorns färg", "Sector colour"),
    "file_path": ("Fil", "File"),
    "top_n": ("Antal", "Number"),
    "units_change_class": ("{share} av enheterna byter klass", "{share} of units change class"),
    # Error messages: the English text is what the CLI prints; {fields} are filled by SkiktError.of.
    "err_not_found": ("filen finns inte", "file not found"),
    "err_folder": ("är en mapp, inte en datafil", "is a folder, not a data file"),
    "err_empty": ("filen är tom", "file is empty"),
    "err_format": ("'{ext}' är inget format som stöds (GeoPackage, Shapefile, zip, GeoJSON, FlatGeobuf, "
                   "CSV, TSV, XLSX)",
                   "'{ext}' is not a supported format (GeoPackage, Shapefile, zip, GeoJSON, FlatGeobuf, "
                   "CSV, TSV, XLSX)"),
    "err_bad_zip": ("inget giltigt zip-arkiv (avkortat eller skadat)", "not a valid zip archive (truncated or damaged)"),
    "err_zip_empty": ("zip-arkivet innehåller ingen datafil som stöds", "zip archive holds no supported data file"),
    "err_not_gis": ("ingen läsbar GIS-fil (okänd eller skadad)", "not a readable GIS file (unrecognised or damaged)"),
    "err_gpkg_damaged": ("GeoPackage-filen är avkortad eller skadad (databasen går inte att läsa)",
                         "GeoPackage is truncated or damaged (its database cannot be read)"),
    "err_truncated": ("filen är avkortad eller skadad ({detail})", "file is truncated or damaged ({detail})"),
    "err_cannot_read": ("kan inte läsas: {detail}", "cannot read: {detail}"),
    "err_binary_table": ("är en binärfil, inte en texttabell", "is a binary file, not a text table"),
    "err_no_rows": ("tabellen har inga rader", "table has no rows"),
    "err_one_column": ("är ingen tabell: bara en kolumn (inga ; , eller tabbar som avgränsare)",
                       "is not a table: found a single column (no ; , or tab separators)"),
    "err_mixed": ("blandade geometrityper ({types}); välj en med geometry = 'point', 'line' eller 'polygon'",
                  "mixed geometry types ({types}); choose one with geometry = 'point', 'line' or 'polygon'"),
    "err_zip_several": ("zip-arkivet innehåller flera datafiler; välj en med layer = ({names})",
                        "zip holds several data files; choose one with layer = ({names})"),
    "err_several_layers": ("har flera lager; välj ett med layer = ({names})",
                           "has several layers; choose one with layer = ({names})"),
    "err_no_layer": ("har inget lager '{layer}'", "has no layer '{layer}'"),
    "err_no_crs": ("saknar koordinatsystem; ange det uttryckligen",
                   "has no coordinate system; give one explicitly"),
    "err_no_crs_fits": ("saknar koordinatsystem; ange det uttryckligen (koordinaterna passar {crs})",
                        "has no coordinate system; give one explicitly (coordinates fit {crs})"),
    "err_table_needs_join": ("är en tabell utan koordinater; ange join = {{ layer, left, right }} för att koppla "
                             "den till ett områdeslager",
                             "is a table without coordinates; give join = {{ layer, left, right }} to attach it "
                             "to an area layer"),
    "join_matched": ("{n} av {rows} tabellrader matchade ett område ({rate})",
                     "{n} of {rows} table rows matched an area ({rate})"),
    "join_padded": ("{n} koder hade tappat sina inledande nollor och fylldes ut",
                    "{n} codes had lost their leading zeros and were padded"),
    "join_unmatched": ("{n} rader matchade inget område: koden finns inte i områdeslagret ({codes})",
                       "{n} rows matched no area: code not in the area layer ({codes})"),
    "join_no_code": ("{n} rader saknar kod", "{n} rows have no code"),
    "join_duplicates": ("{n} koder förekommer flera gånger; den första raden används ({codes})",
                        "{n} codes occur more than once; the first row is used ({codes})"),
    "join_areas_without": ("{n} av {total} områden har ingen rad i tabellen",
                           "{n} of {total} areas have no row in the table"),
    "method_count": ("antal (count)", "count"),
    "method_density": ("täthet (density)", "density"),
    "method_distance": ("avstånd (distance)", "distance"),
    "method_coverage": ("täckning (coverage)", "coverage"),
    "method_length": ("längd (length)", "length"),
    "method_attribute": ("attribut (attribute)", "attribute"),
    "join_report": ("Koppling", "Join"),
    "symbology": ("Symbolisering", "Symbology"),
    "perr_not_found": ("projektfilen finns inte", "project file not found"),
    "perr_not_utf8": ("projektfilen är inte UTF-8-text", "project file is not UTF-8 text"),
    "perr_toml": ("ingen giltig TOML: {detail}", "not valid TOML: {detail}"),
    "perr_schema": ("schema_version {version} är nyare än denna Skikt förstår ({known}); uppdatera Skikt för "
                    "att öppna den",
                    "schema_version {version} is newer than this Skikt understands ({known}); update Skikt "
                    "to open it"),
    "perr_method": ("lager '{id}': okänd indikatormetod '{value}' (använd {known})",
                    "layer '{id}': unknown indicator method '{value}' (use {known})"),
    "perr_column": ("lager '{id}': metoden 'attribute' behöver column = \"…\"",
                    "layer '{id}': method 'attribute' needs column = \"…\""),
    "perr_weight": ("lager '{id}': vikten måste vara ett icke-negativt tal, inte {value}",
                    "layer '{id}': weight must be a non-negative number, not {value}"),
    "perr_sector": ("lager '{id}': okänd sektor '{value}' (kända: {known})",
                    "layer '{id}': unknown sector '{value}' (known: {known})"),
    "perr_duplicate": ("samma lager-id flera gånger: {ids}", "duplicate layer id(s): {ids}"),
    "perr_join_layer": ("lager '{id}': join hänvisar till okänt lager-id '{ref}'",
                        "layer '{id}': join refers to unknown layer id '{ref}'"),
    "perr_study_layer": ("study_area hänvisar till okänt lager-id '{ref}'",
                         "study_area refers to unknown layer id '{ref}'"),
    "warn_no_crs": ("inget koordinatsystem: det gissas inte, ange det vid inläsning{hint}",
                    "no coordinate system: it will not be guessed, give one when loading{hint}"),
    "warn_no_crs_hint": ("; koordinaterna passar {crs}", "; coordinates fit {crs}"),
    "warn_mixed": ("blandade geometrityper: inläsning kräver geometry = 'point', 'line' eller 'polygon'",
                   "mixed geometry types: loading needs geometry = 'point', 'line' or 'polygon'"),
    "warn_invalid": ("{n} ogiltiga geometrier (lagas med make_valid vid inläsning)",
                     "{n} invalid geometries (repaired with make_valid when loaded)"),
    "warn_no_geometry": ("{n} objekt utan geometri (tas bort vid inläsning)",
                         "{n} features without geometry (dropped when loaded)"),
    "warn_coords_wgs84": ("koordinater från kolumnerna {x}/{y}, lästa som WGS 84 (EPSG:4326) efter namnen",
                          "coordinates from columns {x}/{y}, read as WGS 84 (EPSG:4326) by their names"),
    "warn_coords": ("koordinater från kolumnerna {x}/{y}", "coordinates from columns {x}/{y}"),
    "warn_dropped": ("tog bort {null} tomma (null) och {empty} tomma geometrier",
                     "dropped {null} null and {empty} empty geometries"),
    "warn_kept_family": ("behöll {kept} objekt av typen {family}, utelämnade {left} andra",
                         "kept {kept} {family} features, left out {left} others"),
    "warn_repaired": ("lagade {n} ogiltiga geometrier", "repaired {n} invalid geometries"),
    "warn_collapsed": ("tog bort {n} geometrier som föll ihop när de lagades",
                       "dropped {n} geometries that collapsed when repaired"),
    "warn_as_table": ("ingen geometrikolumn: läst som tabell", "no geometry column: read as a table"),
    "warn_filter": ("filtret '{where}' behöll {kept} av {total} poster", "filter '{where}' kept {kept} of {total} records"),
    "warn_crs_override": ("filen anger {file}; ersatt av angivet {given}", "file says {file}; overridden by given {given}"),
    "warn_unprojectable": ("tog bort {n} objekt som inte gick att projicera om",
                           "dropped {n} features that could not be reprojected"),
    "sum_dropped": ("{n} utan geometri borttagna", "{n} without geometry dropped"),
    "sum_repaired": ("{n} ogiltiga geometrier lagade", "{n} invalid geometries repaired"),
    "sum_reprojected": ("omprojicerad {src} → {dst}", "reprojected {src} → {dst}"),
    "warn_cpg_utf8": (".cpg anger {cpg} men texten är UTF-8; läst som UTF-8",
                      ".cpg says {cpg} but the text is UTF-8; read as UTF-8"),
    "warn_cpg_not_utf8": (".cpg anger UTF-8 men texten är inte giltig UTF-8; läst som cp1252",
                          ".cpg says UTF-8 but the text is not valid UTF-8; read as cp1252"),
    "coords": ("SWEREF 99 TM  E {e:,.0f}  N {n:,.0f}   WGS 84  {lat:.5f}° N  {lon:.5f}° E",
               "SWEREF 99 TM  E {e:,.0f}  N {n:,.0f}   WGS 84  {lat:.5f}° N  {lon:.5f}° E"),
    # --- project file and filters (helper P) ---
    "perr_no_indicator": ("projektet har inget indikatorlager; lägg till [layers.indicator] på minst ett lager",
                          "the project has no indicator layer; add [layers.indicator] to at least one layer"),
    "perr_zero_weights": ("alla indikatorvikter är noll; ge minst en indikator en vikt över noll",
                          "every indicator weight is zero; give at least one indicator a weight above zero"),
    "perr_weight_sum": ("indikatorvikternas summa är inte ett ändligt tal", "the sum of the indicator weights is not a finite number"),
    "werr_read": ("kan inte läsa filtret vid '{at}'", "cannot read the filter at '{at}'"),
    "werr_number": ("talet {value} i filtret är för stort", "the number {value} in the filter is too large"),
    "werr_long": ("filtret är längre än {max} tecken", "the filter is longer than {max} characters"),
    "werr_depth": ("filtret är nästlat djupare än {max} nivåer av parenteser eller not",
                   "the filter nests deeper than {max} levels of parentheses or not"),
    "werr_want": ("filtret väntade '{want}' men fann {got}", "the filter expected '{want}' but found {got}"),
    "werr_want_value": ("filtret väntade ett värde ('text' eller tal) men fann {got}",
                        "the filter expected a value ('text' or a number) but found {got}"),
    "werr_want_column": ("filtret väntade ett kolumnnamn men fann {got}",
                         "the filter expected a column name but found {got}"),
    "werr_unexpected": ("oväntat {got} i filtret", "unexpected {got} in the filter"),
    "werr_cmp": ("filtret behöver en jämförelse efter '{col}' (=, !=, <, <=, >, >=, in, is null)",
                 "the filter needs a comparison after '{col}' (=, !=, <, <=, >, >=, in, is null)"),
    "werr_mixed_in": ("'{col} in (…)' blandar text och tal", "'{col} in (…)' mixes text and numbers"),
    "werr_column": ("filtret nämner okänd kolumn '{name}' (kolumner: {columns})",
                    "filter names unknown column '{name}' (columns: {columns})"),
    # --- indicators, grids and units (helper N) ---
    # --- composite and bench (helper C) ---
    # --- reading files (helper I) ---
    # --- command line and outputs (helper L) ---
    # --- app (helper A) ---
}


class Msg(str):
    """A message that is its English text (for the CLI, JSON and logs) and remembers its key, so
    the app can show it in the user's language with :func:`say`."""

    key: str
    params: dict

    @classmethod
    def of(cls, key: str, **params) -> "Msg":
        msg = cls(tr(key, "en").format(**params))
        msg.key, msg.params = key, params
        return msg


def say(message, lang: str = DEFAULT_LANG) -> str:
    """A message in ``lang`` when it carries a key, else as it is."""
    if isinstance(message, Msg):
        return tr(message.key, lang).format(**message.params)
    return str(message)


def tr(key: str, lang: str = DEFAULT_LANG) -> str:
    pair = _TEXT.get(key)
    if pair is None:
        return key
    sv, en = pair
    return en if lang == "en" else (sv or en)


def keys() -> list[str]:
    return list(_TEXT)
