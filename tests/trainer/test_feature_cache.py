"""The feature cache: computed once with the bundle's ONNX towers, reused until an input changes."""

from __future__ import annotations

import os

import numpy as np
import pytest
from toy_bundle import export_toy_bundle

from desktop.core.demo_library import demo_image
from models.runtime import ModelRuntime
from trainer.data.feature_cache import features_dir, image_features, text_features
from trainer.data.sources import Dataset, ImageRef, image_pixels

SAMPLES = ("chelsea", "coffee", "astronaut", "rocket")


class CountingRuntime:
    """A real runtime that counts how often each encoder runs."""

    def __init__(self, runtime: ModelRuntime):
        self.runtime, self.manifest = runtime, runtime.manifest
        self.image_calls = self.text_calls = 0

    def image_features(self, pixels):
        self.image_calls += 1
        return self.runtime.image_features(pixels)

    def text_features(self, texts):
        self.text_calls += 1
        return self.runtime.text_features(texts)


@pytest.fixture(scope="module")
def toy_runtime(tmp_path_factory):
    return ModelRuntime(export_toy_bundle(tmp_path_factory.mktemp("bundle") / "toy"), device="cpu")


@pytest.fixture
def runtime(toy_runtime):
    return CountingRuntime(toy_runtime)


@pytest.fixture
def photos(tmp_path) -> Dataset:
    paths = []
    for name in SAMPLES:
        paths.append(tmp_path / "photos" / f"{name}.jpg")
        paths[-1].parent.mkdir(exist_ok=True)
        demo_image(name).resize((64, 48)).save(paths[-1])
    return Dataset("photos", [ImageRef(path=str(p)) for p in paths], list(SAMPLES), [(i, i) for i in range(4)])


def test_features_are_the_runtimes_own_and_a_second_call_reads_them_from_disk(runtime, photos):
    first = image_features(runtime, photos, batch_size=3)
    assert runtime.image_calls == 2  # 4 images in batches of 3
    expected = runtime.runtime.image_features(image_pixels(photos, range(4), runtime.manifest.image_preprocess).values)
    np.testing.assert_allclose(first.features, expected, rtol=1e-5, atol=1e-6)
    assert first.features.shape == (4, 16) and first.features.dtype == np.float32
    assert first.indices.tolist() == [0, 1, 2, 3] and first.skipped == []

    again = image_features(runtime, photos, batch_size=3)

    assert runtime.image_calls == 2
    np.testing.assert_array_equal(again.features, first.features)
    cached = list(features_dir(runtime.manifest.image_encoder_id).glob("*.npz"))
    assert len(cached) == 1 and not list(cached[0].parent.glob(".*.tmp"))


def test_a_changed_photo_is_encoded_again(runtime, photos):
    before = image_features(runtime, photos, indices=[0, 1])
    changed = photos.images[1].path
    demo_image("rocket").resize((64, 48)).save(changed)
    stat = os.stat(changed)
    os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a second later, whatever the clock's grain

    after = image_features(runtime, photos, indices=[0, 1])

    assert runtime.image_calls == 2
    np.testing.assert_allclose(after.features[0], before.features[0], rtol=1e-6)
    assert not np.allclose(after.features[1], before.features[1])


def test_a_different_selection_of_images_is_its_own_cache_entry(runtime, photos):
    image_features(runtime, photos, indices=[0, 1])
    part = image_features(runtime, photos, indices=[2, 3])
    whole = image_features(runtime, photos)
    assert runtime.image_calls == 3
    np.testing.assert_allclose(whole.features[2:], part.features, rtol=1e-5, atol=1e-6)


def test_unreadable_photos_are_left_out_and_reported_again_from_the_cache(runtime, photos):
    with open(photos.images[2].path, "r+b") as handle:
        handle.truncate(100)
    for _ in range(2):
        result = image_features(runtime, photos)
        assert result.indices.tolist() == [0, 1, 3] and result.features.shape == (3, 16)
        assert len(result.skipped) == 1 and "astronaut.jpg" in result.skipped[0]
    assert runtime.image_calls == 1


def test_in_memory_images_are_keyed_by_their_pixels(runtime):
    rng = np.random.default_rng(0)
    arrays = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    dataset = Dataset("arrays", [ImageRef(row=r) for r in range(3)], ["a"], [(0, 0)], arrays=arrays)
    first = image_features(runtime, dataset)
    image_features(runtime, Dataset("same", dataset.images, ["b"], [], arrays=arrays.copy()))
    assert runtime.image_calls == 1
    arrays[1] = 255 - arrays[1]
    changed = image_features(runtime, dataset)
    assert runtime.image_calls == 2
    assert not np.allclose(changed.features[1], first.features[1])


def test_a_corrupt_cache_file_is_recomputed(runtime, photos):
    first = image_features(runtime, photos)
    (cached,) = features_dir(runtime.manifest.image_encoder_id).glob("*.npz")
    cached.write_bytes(b"not a numpy file")
    again = image_features(runtime, photos)
    assert runtime.image_calls == 2
    np.testing.assert_array_equal(again.features, first.features)


def test_progress_counts_up_to_the_number_of_images(runtime, photos):
    seen = []
    image_features(runtime, photos, batch_size=3, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(3, 4), (4, 4)]


def test_text_features_are_cached_per_list_of_texts(runtime):
    texts = ["a cat", "a cup of coffee", "an astronaut"]
    first = text_features(runtime, texts, batch_size=2)
    assert runtime.text_calls == 2 and first.shape == (3, 12)
    np.testing.assert_allclose(first, runtime.runtime.text_features(texts), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(text_features(runtime, texts), first)
    assert runtime.text_calls == 2
    text_features(runtime, texts + ["a rocket"])
    assert runtime.text_calls == 3
