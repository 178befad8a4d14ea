"""The sector catalogue: the mandates Swedish regions plan across, plus reference layers.

Colours are the Okabe–Ito palette, which stays distinguishable under the common forms of
colour-vision deficiency; the reference sector is neutral grey so it never competes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sector:
    id: str
    name_sv: str
    name_en: str
    colour: str
    marker: str  # matplotlib marker used for point layers of this sector

    def name(self, lang: str = "sv") -> str:
        return self.name_en if lang == "en" else self.name_sv


SECTORS: dict[str, Sector] = {
    s.id: s
    for s in [
        Sector("transport", "Länstransportplan", "County transport plan", "#0072B2", "s"),
        Sector("skills", "Kompetensförsörjning", "Skills supply", "#E69F00", "D"),
        Sector("culture", "Kultur", "Culture", "#CC79A7", "^"),
        Sector("tourism", "Besöksnäring", "Tourism", "#F0E442", "*"),
        Sector("healthcare", "Hälso- och sjukvård", "Healthcare", "#D55E00", "P"),
        Sector("water", "Vattenförsörjning", "Water supply", "#56B4E9", "o"),
        Sector("civil_defence", "Civilförsvar", "Civil defence", "#000000", "X"),
        Sector("socioeconomics", "Socioekonomi", "Socio-economics", "#009E73", "h"),
        Sector("reference", "Referens", "Reference", "#8C8C8C", "."),
    ]
}

SECTOR_IDS = tuple(SECTORS)


def get_sector(sector_id: str) -> Sector:
    try:
        return SECTORS[sector_id]
    except KeyError:
        known = ", ".join(SECTOR_IDS)
        raise KeyError(f"unknown sector '{sector_id}' (known: {known})") from None
