"""A typed query -> place and date filters (chips) and the semantic rest, with a fixed today."""

from __future__ import annotations

import sqlite3
from datetime import date

import pytest

from desktop.core.query_filters import parse_query

TODAY = date(2025, 1, 15)


def chips(text, today=TODAY):
    parsed = parse_query(text, today)
    return parsed.semantic_text, [(c.kind, c.label, c.value) for c in parsed.chips]


@pytest.mark.parametrize(
    ("text", "semantic", "label"),
    [
        ("Porto", "", "Porto, Portugal"),
        ("photos from Norway", "", "Norway"),
        ("Cape Town, South Africa", "", "Cape Town, South Africa"),
        ("beach in Portugal", "beach", "Portugal"),
        ("beach porto", "beach", "Porto, Portugal"),
        ("sunset in Nice", "sunset", "Nice, France"),
        ("Nice", "", "Nice, France"),
        ("dogs in Lisboa", "dogs", "Lisbon, Portugal"),
    ],
)
def test_a_place_in_the_query_becomes_a_filter_and_the_rest_stays_semantic(text, semantic, label):
    got_semantic, got = chips(text)
    assert got_semantic == semantic
    assert [(kind, lab) for kind, lab, _ in got] == [("place", label)]


@pytest.mark.parametrize(
    "text",
    ["a nice sunset", "reading a book", "split rock", "a bath tub", "mobile phone", "the top of a hill", "turkey dinner", "Nice sunset", "Reading a book"],
)
def test_everyday_words_that_are_also_towns_stay_semantic(text):
    assert chips(text) == (text, [])


def test_a_city_followed_by_its_country_is_the_city_inside_that_country():
    parsed = parse_query("Porto, Portugal", TODAY)
    (place,) = parsed.place_filters
    assert (place.place.kind, place.place.country_code) == ("city", "PT")


@pytest.mark.parametrize(
    ("text", "label", "value"),
    [
        ("2019", "2019", "dates:2019-01-01..2019-12-31"),
        ("July 2019", "July 2019", "dates:2019-07-01..2019-07-31"),
        ("in December", "December", "months:12"),
        ("last summer", "Last summer", "dates:2024-06-01..2024-08-31"),
        ("last year", "Last year", "dates:2024-01-01..2024-12-31"),
        ("yesterday", "Yesterday", "dates:2025-01-14..2025-01-14"),
        ("2018-2020", "2018–2020", "dates:2018-01-01..2020-12-31"),
        ("summer 2019", "Summer 2019", "dates:2019-06-01..2019-08-31"),
        ("since 2020", "Since 2020", "dates:2020-01-01.."),
    ],
)
def test_dates_become_a_date_filter(text, label, value):
    assert chips(text) == ("", [("date", label, value)])


def test_last_summer_in_autumn_is_this_years_and_in_july_last_years():
    assert chips("last summer", date(2025, 10, 1))[1][0][2] == "dates:2025-06-01..2025-08-31"
    assert chips("last summer", date(2025, 7, 10))[1][0][2] == "dates:2024-06-01..2024-08-31"


def test_place_date_and_meaning_combine_and_quoted_text_is_left_intact():
    semantic, got = chips('sign saying "exit" in Lisbon July 2019')
    assert semantic == 'sign saying "exit"'
    assert [c[1] for c in got] == ["Lisbon, Portugal", "July 2019"]
    assert chips('"Porto 2019"') == ('"Porto 2019"', [])


def test_may_and_march_are_months_only_with_a_year_or_after_in():
    assert chips("may flowers") == ("may flowers", [])
    assert chips("in May")[1] == [("date", "May", "months:5")]


PHOTOS = [  # (name, country, region, lat, lon, taken_at)
    ("ribeira", "PT", "Porto", 41.1406, -8.6133, "2019-07-14T10:00:00+01:00"),
    ("gaia", "PT", "Porto", 41.1330, -8.6170, "2019-12-24T20:00:00"),
    ("lisbon", "PT", "Lisbon", 38.7223, -9.1393, "2019-07-01T09:00:00"),
    ("oslo", "NO", "Oslo", 59.9139, 10.7522, "2024-07-20T12:00:00"),
    ("nowhere", None, None, None, None, None),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Porto", {"ribeira", "gaia"}),
        ("beach in Portugal", {"ribeira", "gaia", "lisbon"}),
        ("Portugal July 2019", {"ribeira", "lisbon"}),
        ("in December", {"gaia"}),
        ("last summer", {"oslo"}),
        ("photos from Norway", {"oslo"}),
    ],
)
def test_the_pure_filter_and_its_sql_pick_the_same_photos(text, expected):
    parsed = parse_query(text, TODAY)
    assert {p[0] for p in PHOTOS if parsed.matches(*p[1:])} == expected
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE photos (name, country_code, region, latitude, longitude, taken_at)")
    db.executemany("INSERT INTO photos VALUES (?, ?, ?, ?, ?, ?)", PHOTOS)
    where, params = [], []
    if parsed.date_filter:
        fragment, values = parsed.date_filter.sql()
        where.append(fragment), params.extend(values)
    if parsed.place_filters:
        parts = [f.sql() for f in parsed.place_filters]
        where.append("(" + " OR ".join(f"({p[0]})" for p in parts) + ")")
        params.extend(v for p in parts for v in p[1])
    rows = db.execute(f"SELECT name FROM photos WHERE {' AND '.join(where)}", params).fetchall()
    assert {r[0] for r in rows} == expected


def test_removing_a_chip_drops_its_filter_and_json_lists_the_rest():
    parsed = parse_query("beach in Portugal 2019", TODAY)
    assert parsed.as_json()["filters"][0] == {"kind": "place", "label": "Portugal", "value": "country:PT"}
    without_place = parsed.without(parsed.chips[0])
    assert without_place.place_filters == () and without_place.date_filter is not None
    assert without_place.as_json() == {"semantic": "beach", "filters": [{"kind": "date", "label": "2019", "value": "dates:2019-01-01..2019-12-31"}]}
