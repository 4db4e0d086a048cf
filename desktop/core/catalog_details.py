"""What the catalog knows of a photo beyond its pixels: where it was taken and the text printed in it.

The place comes with the photo at indexing (EXIF GPS, reverse geocoded offline by models.places);
the text comes later, from the text pass (desktop/core/text_pass.py), which also fills in the place
of photos indexed before picsift read GPS. Printed text is kept twice: its lines with their boxes
(JSON, for the preview) and, spaced for FTS5 (desktop/core/text_match.py), in `image_text_fts`
whose rowid is the image id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from desktop.core.catalog_connection import from_db, translates_sqlite_errors
from desktop.core.ocr import TextLine
from desktop.core.text_match import spaced
from models.photo_gps import GpsPosition
from models.places import Place

# The SQL of a photo's date: EXIF's when known, else the file's modification time (local time), ISO 8601;
# stored on the file and indexed (catalog_schema v7 keeps it right). NEWEST_FIRST orders by it on that index.
PHOTO_DATE = "f.photo_date"
NEWEST_FIRST = "f.photo_date DESC, f.id DESC"


@dataclass(frozen=True)
class PlaceCount:
    """How many photos of the library were taken in a country (city None) or in one of its cities."""

    country_code: str
    country: str
    city: str | None
    count: int

    @property
    def label(self) -> str:
        return f"{self.city}, {self.country}" if self.city else self.country


def place_label(city: str | None, country: str | None) -> str | None:
    """'Porto, Portugal', 'Portugal', or None when the place is not known."""
    if not country:
        return None
    return f"{city}, {country}" if city else country


def place_columns(gps: GpsPosition | None, place: Place | None) -> tuple:
    """(latitude, longitude, country_code, country, region, city) as the images table stores them."""
    return (
        gps.latitude if gps else None, gps.longitude if gps else None,
        place.country_code if place else None, place.country if place else None,
        place.region if place else None, place.city if place else None,
    )


@translates_sqlite_errors
class PhotoDetails:
    """The catalog's queries on places and printed text (a part of `Catalog`, on its connection)."""

    def images_without_text(self, limit: int | None = None) -> list[tuple[int, str]]:
        """(image id, one of its paths) of every catalogued image the text pass has not read, oldest first."""
        rows = self._db.execute(
            "SELECT i.id, MIN(f.path) FROM images i JOIN files f ON f.image_id = i.id "
            "WHERE i.text_read_with IS NULL GROUP BY i.id ORDER BY i.id LIMIT ?",
            (-1 if limit is None else limit,),
        )
        return [(image_id, from_db(path)) for image_id, path in rows]

    def count_text_unread(self) -> int:
        """Catalogued images the text pass still has to read."""
        return self._db.execute(
            "SELECT COUNT(*) FROM images i WHERE i.text_read_with IS NULL AND EXISTS (SELECT 1 FROM files f WHERE f.image_id = i.id)"
        ).fetchone()[0]

    def count_with_text(self) -> int:
        """Catalogued images in which the text pass found printed text."""
        return self._db.execute(
            "SELECT COUNT(*) FROM image_text t WHERE EXISTS (SELECT 1 FROM files f WHERE f.image_id = t.image_id)"
        ).fetchone()[0]

    def put_text(self, image_id: int, lines: list[TextLine], read_with: str,
                 gps: GpsPosition | None = None, place: Place | None = None) -> None:
        """Store what the text pass read of an image, in one transaction; `gps`/`place` fill in a place
        not known yet (a photo indexed before picsift read GPS)."""
        with self.transaction():
            self._db.execute("DELETE FROM image_text WHERE image_id = ?", (image_id,))
            self._db.execute("DELETE FROM image_text_fts WHERE rowid = ?", (image_id,))
            if lines:
                rows = [[line.text, round(line.score, 4), [list(p) for p in line.box]] for line in lines]
                self._db.execute("INSERT INTO image_text(image_id, lines) VALUES (?, ?)", (image_id, json.dumps(rows, ensure_ascii=False)))
                self._db.execute("INSERT INTO image_text_fts(rowid, text) VALUES (?, ?)",
                                 (image_id, spaced("\n".join(line.text for line in lines))))
            self._db.execute("UPDATE images SET text_read_with = ? WHERE id = ?", (read_with, image_id))
            if gps is not None:
                self._db.execute(
                    "UPDATE images SET latitude = ?, longitude = ?, country_code = ?, country = ?, region = ?, city = ? "
                    "WHERE id = ? AND latitude IS NULL", (*place_columns(gps, place), image_id))

    def text_of(self, image_id: int) -> list[TextLine]:
        """The lines of text read in an image, top to bottom ([] when none was found, or not read yet)."""
        row = self._db.execute("SELECT lines FROM image_text WHERE image_id = ?", (image_id,)).fetchone()
        if row is None:
            return []
        return [TextLine(text, score, tuple(tuple(p) for p in box)) for text, score, box in json.loads(row[0])]

    def text_read(self, image_id: int) -> bool:
        """Whether the text pass has read this image (found text or not)."""
        row = self._db.execute("SELECT text_read_with IS NOT NULL FROM images WHERE id = ?", (image_id,)).fetchone()
        return bool(row and row[0])

    def text_matches(self, match: str, limit: int = 1000) -> dict[int, float]:
        """image id -> FTS5 rank (bm25; lower is better) of the live images whose text matches `match`
        (an FTS5 expression from text_match.fts_query), best first."""
        rows = self._db.execute(
            "SELECT t.rowid, t.rank FROM image_text_fts t WHERE image_text_fts MATCH ? "
            "AND EXISTS (SELECT 1 FROM files f WHERE f.image_id = t.rowid) ORDER BY t.rank LIMIT ?",
            (match, limit),
        )
        return dict(rows)

    def place_counts(self) -> list[PlaceCount]:
        """Photos per country, and per city within each country, most photos first (files, not images)."""
        rows = self._db.execute(
            "SELECT i.country_code, i.country, i.city, COUNT(*) FROM files f JOIN images i ON i.id = f.image_id "
            "WHERE i.country_code IS NOT NULL GROUP BY i.country_code, i.city"
        ).fetchall()
        countries: dict[str, list] = {}
        for code, country, city, count in rows:
            entry = countries.setdefault(code, [country, 0, []])
            entry[1] += count
            if city:
                entry[2].append(PlaceCount(code, country, city, count))
        ordered = sorted(countries.items(), key=lambda item: (-item[1][1], item[1][0]))
        out: list[PlaceCount] = []
        for code, (country, total, cities) in ordered:
            out.append(PlaceCount(code, country, None, total))
            out += sorted(cities, key=lambda c: (-c.count, c.city))
        return out
