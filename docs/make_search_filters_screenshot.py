"""Take docs/search_filters.png: a typed query's place and date shown as removable chips, over demo photos with GPS.

Run (as docs/make_screenshot.py, whose window handling it reuses):
    QT_QPA_PLATFORM=offscreen python docs/make_search_filters_screenshot.py
Options: --query TEXT, --out PATH, --bundle PATH (default: the installed built-in model).

The demo photos are written with EXIF: some taken in Porto in July 2019, some in Cape Town in
December 2020, the rest without GPS; then indexed in a scratch data dir and searched.
"""

from __future__ import annotations

import io
import os
import sys
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_screenshot  # noqa: E402 - next to this script
from make_screenshot import ROOT  # noqa: E402

PORTO = ((41.0, 8.0, 26.4), "N", (8.0, 36.0, 48.0), "W")
CAPE_TOWN = ((33.0, 55.0, 30.0), "S", (18.0, 25.0, 12.0), "E")
TRIPS = {  # photo -> (where, when)
    **{name: (PORTO, datetime(2019, 7, 14, 10)) for name in ("chelsea", "coffee", "horse", "clock", "camera", "rocket")},
    **{name: (CAPE_TOWN, datetime(2020, 12, 24, 18)) for name in ("astronaut", "moon", "coins", "grass")},
}


def write_travel_photos(folder: Path) -> None:
    """The demo photos as JPEGs, those in TRIPS with the EXIF GPS and date of their trip."""
    from PIL import ExifTags, Image

    from desktop.core.demo_library import DEMO_PHOTOS, demo_image

    folder.mkdir(parents=True, exist_ok=True)
    for photo in DEMO_PHOTOS:
        exif = Image.Exif()
        if photo.name in TRIPS:
            (lat, lat_ref, lon, lon_ref), when = TRIPS[photo.name]
            gps = ExifTags.GPS
            exif[ExifTags.IFD.GPSInfo] = {gps.GPSLatitudeRef: lat_ref, gps.GPSLatitude: lat, gps.GPSLongitudeRef: lon_ref, gps.GPSLongitude: lon}
            exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = when.strftime("%Y:%m:%d %H:%M:%S")
        buffer = io.BytesIO()
        demo_image(photo.name).convert("RGB").save(buffer, "JPEG", quality=92, exif=exif.tobytes())
        (folder / f"{photo.name}.jpg").write_bytes(buffer.getvalue())


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    make_screenshot.SCRATCH = make_screenshot.SCRATCH.with_name("picsift-filters-screenshot")  # its own: both may run at once
    make_screenshot.main(__doc__, "photos from Portugal in 2019", ROOT / "docs" / "search_filters.png", write_travel_photos)
