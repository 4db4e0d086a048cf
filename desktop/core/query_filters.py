"""A typed query -> its place and date filters plus the rest, which stays a semantic query.

"beach in Portugal" -> semantic "beach", place Portugal; "photos from Norway" -> place Norway,
nothing semantic; "Cape Town, South Africa" -> the city inside that country; "July 2019",
"last summer", "in December", "2018-2020" -> dates. Quoted text is never parsed ("\"exit\"" stays
for the OCR search). Each filter is a chip (kind, label, value) the UI shows and can remove.

When a name is a place: place names that are everyday words ("nice", "reading", "split", "bath",
"turkey", `models.place_names.is_common_word`) only when capitalised and after a place word
("in Nice") or as the whole query ("Nice"); other names when capitalised ("Porto beach") or after
a place word ("beach in porto"), towns under 15,000 people only after one; lower case with no
place word only countries and cities of 100,000+ ("porto beach").
People: the names of the people named in the library (passed in, from the catalog) in any case
("grandma at the beach", "Anna and Tom": photos with both), with the "and", "of" or "with" that joins
them; the chip shows what was read as a person and a click takes it away.
Seasons are meteorological northern ones (summer is June to August): a photo library rarely
says which hemisphere its owner means, and most people's summer holidays fall there.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from models import place_names
from models.places import PlaceName

PERSON_JOINERS = frozenset({"and", "&", ","})  # "Anna and Tom": between two people
PERSON_LEADS = frozenset({"of", "with"})  # "photos of Anna", "beach with Tom": before a person
PLACE_WORDS = frozenset({"in", "from", "at", "near", "around", "to", "visiting", "of"})
DATE_WORDS = frozenset({"in", "from", "during", "on", "of", "taken"})
GENERIC = frozenset({"photo", "photos", "picture", "pictures", "pics", "pic", "images", "image", "shots", "taken", "my", "all"})
CONNECTORS = frozenset({"of", "and", "the", "de", "do", "da", "la", "le", "del", "di", "am", "upon", "on", "en", "sur"})
SMALL_TOWN = 15_000  # people: smaller towns only after a place word
MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): number for number, name in enumerate(calendar.month_abbr) if name and name != "May"})
MONTH_WORDS_NEEDING_CONTEXT = frozenset({"may", "march", "mar", "jan", "sep", "dec", "aug"})  # everyday words too
SEASONS = {"spring": (3, 4, 5), "summer": (6, 7, 8), "autumn": (9, 10, 11), "fall": (9, 10, 11), "winter": (12, 1, 2)}
_TOKEN = re.compile(r'"[^"]*"|[\w.\'’-]+|,|\S')
_YEAR = re.compile(r"(19\d\d|20\d\d)$")
_YEAR_SPAN = re.compile(r"(19\d\d|20\d\d)[-–](19\d\d|20\d\d)$")


@dataclass(frozen=True)
class Chip:
    """One removable filter as the UI and `--json` show it."""

    kind: str  # "place", "date" or "person"
    label: str  # "Portugal", "Cape Town, South Africa", "Summer 2024", "December"
    value: str  # stable: "country:PT", "city:-33.92580,18.42322", "dates:2024-06-01..2024-08-31", "months:12", "person:7"


@dataclass(frozen=True)
class DateFilter:
    """Dates from `start` to `end` inclusive (either open), or months of any year."""

    start: date | None = None
    end: date | None = None
    months: tuple[int, ...] = ()  # 1-12; any year

    def matches(self, taken_at: str | None) -> bool:
        """`taken_at` is the catalog's ISO-8601 local time ('2019-07-14T10:00:00+02:00')."""
        if not taken_at or len(taken_at) < 10:
            return False
        day = taken_at[:10]
        if self.months:
            return int(day[5:7]) in self.months
        return (self.start is None or day >= self.start.isoformat()) and (self.end is None or day <= self.end.isoformat())

    def sql(self, column: str = "taken_at") -> tuple[str, list]:
        """A WHERE fragment and its parameters doing the same as `matches`."""
        if self.months:
            marks = ",".join("?" * len(self.months))
            return f"CAST(substr({column}, 6, 2) AS INTEGER) IN ({marks})", list(self.months)
        parts, params = [], []
        if self.start:
            parts.append(f"substr({column}, 1, 10) >= ?")
            params.append(self.start.isoformat())
        if self.end:
            parts.append(f"substr({column}, 1, 10) <= ?")
            params.append(self.end.isoformat())
        return " AND ".join(parts) or "1", params


@dataclass(frozen=True)
class PlaceFilter:
    """Photos in a country, a region, or within a city's reach (a lat/lon box: its suburbs too)."""

    place: PlaceName

    def matches(self, country_code: str | None, region: str | None, latitude: float | None, longitude: float | None) -> bool:
        p = self.place
        if p.kind == "country":
            return country_code == p.country_code
        if p.kind == "region":
            return country_code == p.country_code and region == p.region
        if latitude is None or longitude is None:
            return False
        lat_min, lat_max, lon_min, lon_max = self._box()
        return lat_min <= latitude <= lat_max and lon_min <= longitude <= lon_max

    def sql(self, country="country_code", region="region", latitude="latitude", longitude="longitude") -> tuple[str, list]:
        p = self.place
        if p.kind == "country":
            return f"{country} = ?", [p.country_code]
        if p.kind == "region":
            return f"{country} = ? AND {region} = ?", [p.country_code, p.region]
        return f"{latitude} BETWEEN ? AND ? AND {longitude} BETWEEN ? AND ?", list(self._box())

    def _box(self) -> tuple[float, float, float, float]:
        p = self.place
        dlat = p.reach_km / 111.2  # km per degree of latitude
        dlon = p.reach_km / (111.32 * max(0.01, math.cos(math.radians(p.latitude))))
        return p.latitude - dlat, p.latitude + dlat, p.longitude - dlon, p.longitude + dlon


@dataclass(frozen=True)
class ParsedQuery:
    semantic_text: str  # what the model searches for; "" when the query was only filters
    place_filters: tuple[PlaceFilter, ...] = ()  # any of them (OR)
    date_filter: DateFilter | None = None
    chips: tuple[Chip, ...] = field(default=())
    people: tuple[int, ...] = ()  # person ids: all of them in the photo (AND)

    def without(self, chip: Chip) -> ParsedQuery:
        """The query with one chip removed (the user clicked its cross); the text stays as it is."""
        index = self.chips.index(chip)
        chips = self.chips[:index] + self.chips[index + 1 :]
        if chip.kind == "date":
            return replace(self, date_filter=None, chips=chips)
        if chip.kind == "person":
            return replace(self, people=tuple(p for p in self.people if f"person:{p}" != chip.value), chips=chips)
        places = tuple(f for f in self.place_filters if _place_value(f.place) != chip.value)
        return replace(self, place_filters=places, chips=chips)

    def matches(self, country_code, region, latitude, longitude, taken_at) -> bool:
        """Pure filter over one photo's facts (AND of date and any-of the places)."""
        if self.date_filter and not self.date_filter.matches(taken_at):
            return False
        return not self.place_filters or any(f.matches(country_code, region, latitude, longitude) for f in self.place_filters)

    def as_json(self) -> dict:
        return {"semantic": self.semantic_text, "filters": [{"kind": c.kind, "label": c.label, "value": c.value} for c in self.chips]}


def place_filter(country_code: str, city: str | None = None) -> PlaceFilter:
    """The filter of a place picked from the library's list (Catalog.place_counts): a country, or a
    city in it (its area, as when the city is typed); a city the gazetteer does not know is its country."""
    if city and (found := place_names.lookup(city, country_code=country_code)) is not None:
        return PlaceFilter(found)
    return PlaceFilter(PlaceName("country", country_code, country_code, None, None, None, None, 0))


def parse_query(text: str, today: date, people: Sequence[tuple[int, str]] = ()) -> ParsedQuery:
    """Split `text` into person, place and date filters and the semantic rest (see the module docstring);
    `people`: (id, name) of the library's named people (Catalog.named_people)."""
    tokens = _TOKEN.findall(text)
    used = [False] * len(tokens)
    persons = _find_people(tokens, used, people)
    dates = _find_dates(tokens, used, today)
    places = _find_places(tokens, used)
    rest = [t for t, u in zip(tokens, used) if not u]
    semantic = _join(rest)
    if all(t.lower() in GENERIC or t == "," for t in rest):
        semantic = ""
    chips = [Chip("person", name, f"person:{pid}") for pid, name in persons]
    chips += [Chip("place", p.label, _place_value(p)) for p in places]
    if dates:
        chips.append(Chip("date", dates[1], _date_value(dates[0])))
    return ParsedQuery(semantic, tuple(PlaceFilter(p) for p in places), dates[0] if dates else None, tuple(chips),
                       tuple(pid for pid, _ in persons))


def _join(tokens: list[str]) -> str:
    out = " ".join(tokens)
    return re.sub(r"\s+,", ",", out).strip(" ,")


def _place_value(place: PlaceName) -> str:
    if place.kind == "country":
        return f"country:{place.country_code}"
    if place.kind == "region":
        return f"region:{place.country_code}/{place.region}"
    return f"city:{place.latitude:.5f},{place.longitude:.5f}"


def _date_value(dates: DateFilter) -> str:
    if dates.months:
        return "months:" + ",".join(str(m) for m in dates.months)
    return f"dates:{dates.start or ''}..{dates.end or ''}"


# --- people ---


def _find_people(tokens: list[str], used: list[bool], people: Sequence[tuple[int, str]]) -> list[tuple[int, str]]:
    """The named people in the query, longest name first at each token, with the words joining them."""
    names = sorted(((tuple(t.casefold() for t in _TOKEN.findall(name)), pid, name) for pid, name in people), key=lambda n: -len(n[0]))
    found: list[tuple[int, str]] = []
    for i in range(len(tokens)):
        for key, pid, name in names:
            span = tokens[i : i + len(key)]
            if key and not any(used[i : i + len(key)]) and tuple(t.casefold() for t in span) == key and (pid, name) not in found:
                _mark(used, i, i + len(key))
                found.append((pid, name))
                break
    person = list(used)  # the tokens read as people
    for j, token in enumerate(tokens):
        before, after = j > 0 and person[j - 1], j + 1 < len(tokens) and person[j + 1]
        if token.lower() in PERSON_JOINERS and before and after or token.lower() in PERSON_LEADS and after:
            used[j] = True
    return found


# --- places ---


def _find_places(tokens: list[str], used: list[bool]) -> list[PlaceName]:
    found: list[PlaceName] = []
    i = 0
    while i < len(tokens):
        match = None if used[i] else _place_at(tokens, used, i)
        if match is None:
            i += 1
            continue
        place, end = match
        if end < len(tokens) - 1 and tokens[end] == "," and not used[end + 1]:  # "Cape Town, South Africa"
            within = _place_at(tokens, used, end + 1, inside=place)
            if within:
                place, end = within[0], within[1]
        _mark(used, i, end)
        if i > 0 and tokens[i - 1].lower() in PLACE_WORDS and not used[i - 1]:
            used[i - 1] = True
        found.append(place)
        i = end
    return found


def _place_at(tokens: list[str], used: list[bool], i: int, inside: PlaceName | None = None):
    """The longest place name starting at token i that the evidence allows: (place, end index)."""
    for n in range(min(5, len(tokens) - i), 0, -1):
        span = tokens[i : i + n]
        if any(used[i : i + n]) or not all(_wordlike(t) for t in span) or span[-1].lower() in CONNECTORS:
            continue
        place = _resolve(" ".join(span), inside)
        if place and _allowed(tokens, used, i, n, place, inside):
            return place, i + n
    return None


def _resolve(name: str, inside: PlaceName | None) -> PlaceName | None:
    """The place called `name`; after a comma, the earlier place narrowed to the one inside this one."""
    if inside is None:
        return place_names.lookup(name)
    outer = place_names.lookup(name)
    if outer is None or outer.kind == "city" or outer.kind == inside.kind:
        return None
    region = outer.region if outer.kind == "region" else None
    inner = next(iter(c for c in place_names.candidates(inside.label.split(",")[0], outer.country_code, region) if c.kind == inside.kind), None)
    if inner is None:
        return None
    return replace(inner, label=f"{inner.label.split(',')[0]}, {outer.label.split(',')[0]}")


def _allowed(tokens, used, i, n, place: PlaceName, inside) -> bool:
    span = tokens[i : i + n]
    capitalised = all(t[0].isupper() for t in span if t.lower() not in CONNECTORS)
    after_word = i > 0 and tokens[i - 1].lower() in PLACE_WORDS
    if inside is not None:
        return capitalised or place.kind == "country"
    whole = all(used[j] or j in range(i, i + n) or tokens[j].lower() in GENERIC for j in range(len(tokens)))
    if n == 1 and place_names.is_common_word(span[0]):
        return capitalised and (after_word or whole or _comma_follows(tokens, i + n))
    small = place.kind == "city" and place.population < SMALL_TOWN
    if capitalised:
        return after_word or whole or not small
    big = place.kind == "country" or (place.kind == "city" and place.population >= place_names.BIG_CITY)
    return (after_word and not small) or big


def _comma_follows(tokens, end) -> bool:
    return end < len(tokens) - 1 and tokens[end] == ","


def _wordlike(token: str) -> bool:
    return token[0].isalpha() or (token[0] == "U" and "." in token)


def _mark(used: list[bool], start: int, end: int) -> None:
    for j in range(start, end):
        used[j] = True


# --- dates ---


def _find_dates(tokens: list[str], used: list[bool], today: date):
    """The first date phrase in the query: (DateFilter, label), its tokens marked used."""
    lower = [t.lower() for t in tokens]
    for i in range(len(tokens)):
        if tokens[i].startswith('"'):
            continue
        hit = _date_at(tokens, lower, i, today)
        if hit:
            dates, label, end = hit
            start = i - 1 if i > 0 and lower[i - 1] in DATE_WORDS | {"since", "before", "after", "between"} else i
            _mark(used, start, end)
            if lower[start] in ("since", "after") and dates.start:
                dates = DateFilter(start=dates.start if lower[start] == "since" else dates.end + timedelta(days=1))
                label = f"Since {label}" if lower[start] == "since" else f"After {label}"
            elif lower[start] == "before" and dates.start:
                dates, label = DateFilter(end=dates.start - timedelta(days=1)), f"Before {label}"
            return dates, label
    return None


def _date_at(tokens, lower, i, today: date):
    word = lower[i]
    nxt = lower[i + 1] if i + 1 < len(tokens) else ""
    prev = lower[i - 1] if i > 0 else ""
    if _YEAR_SPAN.match(word):
        first, last = (int(y) for y in _YEAR_SPAN.match(word).groups())
        return DateFilter(date(first, 1, 1), date(last, 12, 31)), f"{first}–{last}", i + 1
    if _year(word, today) and nxt in ("to", "and", "-") and i + 2 < len(tokens) and _year(lower[i + 2], today):
        first, last = int(word), int(lower[i + 2])
        return DateFilter(date(first, 1, 1), date(last, 12, 31)), f"{first}–{last}", i + 3
    if word in ("today", "yesterday"):
        day = today if word == "today" else today - timedelta(days=1)
        return DateFilter(day, day), word.capitalize(), i + 1
    if word in ("last", "this") and nxt:
        return _relative(word, nxt, today, i)
    if word in SEASONS and _year(nxt, today):
        year = int(nxt)
        return _season(word, year), f"{word.capitalize()} {year}", i + 2
    if word in SEASONS and prev in ("in", "during") and tokens[i - 1] != "":
        return DateFilter(months=SEASONS[word]), word.capitalize(), i + 1
    if word in MONTHS:
        month = MONTHS[word]
        if _year(nxt, today):
            year = int(nxt)
            return DateFilter(date(year, month, 1), _month_end(year, month)), f"{calendar.month_name[month]} {year}", i + 2
        if prev in ("in", "during") or (word not in MONTH_WORDS_NEEDING_CONTEXT and tokens[i][0].isupper()):
            return DateFilter(months=(month,)), calendar.month_name[month], i + 1
    if _year(word, today) and not tokens[i].startswith('"'):
        year = int(word)
        return DateFilter(date(year, 1, 1), date(year, 12, 31)), str(year), i + 1
    return None


def _relative(word: str, unit: str, today: date, i: int):
    back = word == "last"
    if unit == "year":
        year = today.year - back
        return DateFilter(date(year, 1, 1), date(year, 12, 31)), f"{word.capitalize()} year", i + 2
    if unit == "month":
        first = today.replace(day=1)
        if back:
            first = (first - timedelta(days=1)).replace(day=1)
        return DateFilter(first, _month_end(first.year, first.month)), f"{word.capitalize()} month", i + 2
    if unit == "week":
        monday = today - timedelta(days=today.weekday() + 7 * back)
        return DateFilter(monday, monday + timedelta(days=6)), f"{word.capitalize()} week", i + 2
    if unit in SEASONS:
        return _season(unit, _season_year(unit, today, back)), f"{word.capitalize()} {unit}", i + 2
    return None


def _season_year(season: str, today: date, back: bool) -> int:
    """The year a season starts in: "this" one is the current or coming one, "last" the latest that ended."""
    months = SEASONS[season]
    year = today.year - (1 if season == "winter" and today.month <= 2 else 0)  # Jan-Feb: the winter began last year
    start = date(year, months[0], 1)
    if not back:
        return year
    ended = _season(season, year).end < today
    return year if ended and start <= today else year - 1


def _season(season: str, year: int) -> DateFilter:
    first, last = SEASONS[season][0], SEASONS[season][-1]
    end_year = year + 1 if season == "winter" else year
    return DateFilter(date(year, first, 1), _month_end(end_year, last))


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _year(word: str, today: date) -> bool:
    return bool(_YEAR.match(word)) and 1900 <= int(word) <= today.year + 1
