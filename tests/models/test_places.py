"""Reverse geocoding on the real GeoNames tables: cities of several countries, border towns, points at sea."""

from __future__ import annotations

import numpy as np
import pytest

from models import places
from models.place_names import is_common_word, lookup
from models.places import place_of, places_of

CITIES = {  # (lat, lon): (city, region, country code)
    (41.1496, -8.6109): ("Porto", "Porto", "PT"),
    (59.9139, 10.7522): ("Oslo", "Oslo", "NO"),
    (-33.9249, 18.4241): ("Cape Town", "Western Cape", "ZA"),
    (50.0614, 19.9366): ("Kraków", "Lesser Poland Voivodeship", "PL"),
    (-23.5505, -46.6333): ("São Paulo", "Sao Paulo", "BR"),
    (48.5819, 7.7510): ("Strasbourg", "Alsace", "FR"),
    (48.5722, 7.8156): ("Kehl", "Baden-Wuerttemberg", "DE"),
    (46.2044, 6.1432): ("Geneva", "Geneva", "CH"),
    (46.1934, 6.2342): ("Annemasse", "Rhone-Alpes", "FR"),
    (31.7587, -106.4869): ("El Paso", "Texas", "US"),
}


@pytest.mark.parametrize(("position", "expected"), CITIES.items(), ids=[c[0] for c in CITIES.values()])
def test_a_photo_in_a_city_gets_its_city_region_and_country(position, expected):
    place = place_of(*position)
    assert (place.city, place.region, place.country_code) == expected
    assert place.distance_km < 2


def test_a_city_carries_its_english_country_name_and_an_ascii_spelling():
    place = place_of(50.0614, 19.9366)
    assert (place.country, place.city_ascii) == ("Poland", "Krakow")


# Within a few km of a border, across a river or a street: the country of each point is known.
NEAR_BORDERS = {
    (48.5750, 7.8100): "DE",  # Kehl's west end, by the Rhine; Strasbourg is 4 km away
    (48.5735, 7.8017): "DE",  # the Europe bridge over the Rhine
    (48.5790, 7.7700): "FR",  # Strasbourg's Esplanade, 3 km from Kehl
    (46.2381, 6.1090): "CH",  # Geneva airport; Ferney-Voltaire (France) 2 km away
    (46.2330, 6.0760): "CH",  # Meyrin, on the French border
    (31.7389, -106.4874): "MX",  # Ciudad Juárez's cathedral, 2 km from El Paso's downtown
    (31.7500, -106.4800): "US",  # El Paso, just north of the river
    (51.4416, 4.9286): "NL",  # Baarle-Nassau, whose streets are shared with Belgian Baarle-Hertog
}


@pytest.mark.parametrize(("position", "country"), NEAR_BORDERS.items())
def test_near_a_border_a_photo_gets_its_own_country_or_nothing_never_the_neighbour(position, country):
    place = place_of(*position)
    assert place is None or place.country_code == country


AT_SEA = {
    (30.0, -40.0): "mid-Atlantic",
    (0.0, -140.0): "mid-Pacific",
    (-80.0, 0.0): "Antarctica",
    (50.2, -0.9): "English Channel",
    (46.45, 6.55): "Lake Geneva, between Switzerland and France",
}


@pytest.mark.parametrize("position", AT_SEA, ids=AT_SEA.values())
def test_at_sea_or_far_from_any_town_a_photo_gets_no_place(position):
    assert place_of(*position) is None


def test_many_positions_are_looked_up_at_once_in_order():
    positions = list(CITIES) + list(AT_SEA)
    places = places_of(positions)
    assert [p.city if p else None for p in places] == [c[0] for c in CITIES.values()] + [None] * len(AT_SEA)
    assert places_of([]) == []


def test_names_resolve_to_the_likeliest_place_countries_and_big_cities_first():
    assert lookup("Portugal").country_code == "PT"
    assert (lookup("Porto").kind, lookup("Porto").country_code) == ("city", "PT")
    assert lookup("Lisboa").label == "Lisbon, Portugal"  # an alternate name of a big city
    assert lookup("Czech Republic").country_code == "CZ"
    assert lookup("USA").country_code == "US"
    assert lookup("Western Cape").kind == "region"
    assert lookup("Kiel").label == "Kiel, Germany"  # not Kehl, which has "Kiel" among its alternate names
    assert lookup("Qwxzville") is None  # (Atlantis is a town in the Western Cape)


def test_place_names_that_are_everyday_words_are_known_as_such():
    assert all(is_common_word(w) for w in ("nice", "Reading", "mobile", "split", "bath", "of", "turkey"))
    assert not any(is_common_word(w) for w in ("porto", "Norway", "Paris"))


@pytest.fixture
def counted_builds(monkeypatch):
    """`places._build` made to hand back this run's real tables (built once, ~10 s) and to count its calls."""
    tables = places._world().tables
    builds = []
    monkeypatch.setattr(places, "_build", lambda: builds.append(1) or tables)
    return builds


def _same_world(a, b) -> bool:
    return a.tables.keys() == b.tables.keys() and all(np.array_equal(a.tables[k], b.tables[k]) for k in a.tables)


def test_the_place_tables_are_cached_and_a_second_load_reads_them_with_the_same_answers(tmp_path, counted_builds, monkeypatch):
    first = places._load(tmp_path)
    second = places._load(tmp_path)
    assert counted_builds == [1]  # the second load read the file
    assert _same_world(first, places._world()) and _same_world(second, places._world())
    expected = places_of(list(CITIES) + list(NEAR_BORDERS) + list(AT_SEA))
    monkeypatch.setattr(places, "_world", lambda: second)
    assert places_of(list(CITIES) + list(NEAR_BORDERS) + list(AT_SEA)) == expected
    assert list(second.towns.get("lisboa")) == list(first.towns.get("lisboa")) and len(second.towns.get("lisboa")) == 1


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _scribble(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 3 : len(data) // 3 + 4096] = b"\xff" * 4096
    path.write_bytes(bytes(data))


def _other_data(path):
    with open(path, "wb") as handle:
        np.savez(handle, key=np.array("v0-made-from-something-else"))


def _empty(path):
    path.write_bytes(b"")


@pytest.mark.parametrize("damage", [_truncate, _scribble, _other_data, _empty])
def test_a_damaged_or_foreign_place_cache_is_rebuilt_silently(tmp_path, counted_builds, damage):
    places._load(tmp_path)
    (cache,) = tmp_path.glob("places-*.npz")
    damage(cache)
    world = places._load(tmp_path)
    assert counted_builds == [1, 1]
    assert _same_world(world, places._world())
    assert _same_world(places._load(tmp_path), world) and counted_builds == [1, 1]  # the rebuilt file reads


def test_a_cache_of_another_format_is_removed_when_the_new_one_is_written(tmp_path, counted_builds):
    stale = tmp_path / "places-v0-3.0.1-0123456789ab.npz"
    stale.write_bytes(b"old")
    places._load(tmp_path)
    assert [p.name for p in tmp_path.glob("places-*.npz")] == [f"places-{places._cache_key()}.npz"]
