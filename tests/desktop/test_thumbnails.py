"""The thumbnail cache: small JPEGs by content hash, bounded on disk, least recently used evicted first."""

from __future__ import annotations

import os

import pytest
from image_zoo import scene
from PIL import Image

from desktop.core import thumbnails
from desktop.core.thumbnails import ThumbnailCache
from models import paths

HASHES = [f"{i:02x}" + "5e" * 15 for i in range(8)]  # 32 hex digits, like blake2b(digest_size=16)


def _age(cache: ThumbnailCache, content_hash: str, seconds: int) -> None:
    """Mark a thumbnail as last used at a fixed moment long ago (tests never sleep)."""
    stamp = seconds * 1_000_000_000
    os.utime(cache.folder / content_hash[:2] / f"{content_hash}.jpg", ns=(stamp, stamp))


def test_put_writes_a_small_jpeg_under_the_hash_prefix():
    cache = ThumbnailCache()
    photo = scene("astronaut", (1200, 800))
    path = cache.put(HASHES[0], photo)
    assert path == paths.cache_dir() / "thumbnails" / HASHES[0][:2] / f"{HASHES[0]}.jpg"
    with Image.open(path) as thumb:
        assert (thumb.format, thumb.size) == ("JPEG", (256, 171))
    assert photo.size == (1200, 800)  # the caller's image is untouched
    assert not [p for p in path.parent.iterdir() if p.suffix != ".jpg"]  # no temp file left behind


def test_small_images_are_not_enlarged(tmp_path):
    cache = ThumbnailCache(tmp_path, side=128)
    with Image.open(cache.put(HASHES[0], scene("coins", (100, 60)))) as thumb:
        assert thumb.size == (100, 60)


def test_path_and_has_see_only_cached_thumbnails(tmp_path):
    cache = ThumbnailCache(tmp_path)
    assert cache.path(HASHES[0]) is None and not cache.has(HASHES[0])
    cache.put(HASHES[0], scene("coffee", (300, 200)))
    assert cache.has(HASHES[0]) and cache.path(HASHES[0]).is_file()


def test_a_hash_that_could_escape_the_folder_is_refused(tmp_path):
    with pytest.raises(ValueError):
        ThumbnailCache(tmp_path).path("../../etc/passwd")


def test_prune_evicts_the_least_recently_used_until_under_the_limit(tmp_path):
    cache = ThumbnailCache(tmp_path)
    for age, content_hash in enumerate(HASHES):  # HASHES[0] oldest
        cache.put(content_hash, scene("astronaut", (400 + age, 300)))
        _age(cache, content_hash, 1_000_000 + age)
    cache.path(HASHES[0])  # viewed just now: the most recent of all
    sizes = {h: (tmp_path / h[:2] / f"{h}.jpg").stat().st_size for h in HASHES}
    cache.max_bytes = sum(sizes.values()) // 2
    assert cache.prune() > 0
    kept = [h for h in HASHES if cache.has(h)]
    assert sum(sizes[h] for h in kept) <= cache.max_bytes
    assert HASHES[0] in kept and HASHES[-1] in kept and not cache.has(HASHES[1])
    assert kept == [HASHES[0]] + HASHES[len(HASHES) - len(kept) + 1 :]  # the newest survive


def test_prune_under_the_limit_does_not_walk_the_folder(tmp_path, monkeypatch):
    cache = ThumbnailCache(tmp_path, max_bytes=10_000_000)
    cache.put(HASHES[0], scene("coffee", (300, 200)))
    assert cache.prune() == 0  # first call: learns the size from one walk
    walks = []
    monkeypatch.setattr(thumbnails, "_scandir", lambda folder: walks.append(folder) or [])
    for content_hash in HASHES[1:]:
        cache.put(content_hash, scene("coffee", (300, 200)))
        assert cache.prune() == 0
    assert walks == []


def test_a_new_cache_over_a_full_folder_prunes_it(tmp_path):
    for content_hash in HASHES:
        ThumbnailCache(tmp_path).put(content_hash, scene("rocket", (300, 400)))
    total = sum(p.stat().st_size for p in tmp_path.rglob("*.jpg"))
    assert ThumbnailCache(tmp_path, max_bytes=total // 3).prune() > 0
    assert sum(p.stat().st_size for p in tmp_path.rglob("*.jpg")) <= total // 3


def test_indexing_keeps_the_thumbnail_cache_within_its_bound(tmp_path):
    from engine_fixtures import index_all, write_photos
    from toy_bundle import export_toy_bundle

    from desktop.core.catalog import Catalog
    from desktop.core.library import Library
    from models.runtime import ModelRuntime

    photos = write_photos(tmp_path / "photos")
    bound = 3 * (tmp_path / "photos" / "coffee.jpg").stat().st_size // 20  # room for a few thumbnails only
    cache = ThumbnailCache(tmp_path / "thumbs", max_bytes=bound)
    library = Library(Catalog(), ModelRuntime(export_toy_bundle(tmp_path / "toy"), device="cpu"), thumbnails=cache)
    library.catalog.add_folder(photos[0].parent)
    assert index_all(library).encoded == len(photos)
    on_disk = sum(p.stat().st_size for p in (tmp_path / "thumbs").rglob("*.jpg"))
    assert 0 < on_disk <= bound
