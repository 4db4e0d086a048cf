"""Training data: loaders give readable labels and captions, splits are fair and repeatable, bad images are skipped."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from image_zoo import write_nas_labelled_folders

from desktop.core.demo_library import demo_image
from models.errors import PicsiftError
from models.photo_reader import read_photo_file
from models.preprocess import ImagePreprocess, preprocess
from trainer.data.sources import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_DIR,
    Dataset,
    ImageRef,
    image_pixels,
    label_text,
    load_caption_csv,
    load_coco_captions,
    load_fashion_mnist,
    load_karpathy,
    load_labelled_folders,
    read_fashion_mnist,
    split,
    write_fashion_mnist_folders,
)

SPEC = ImagePreprocess(size=32, resize_to=32, resample="bilinear", mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
needs_fashion_mnist = pytest.mark.skipif(not (FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz").is_file(),
                                         reason="Fashion-MNIST not installed (Debian package fashion-mnist)")


def _photo(path, sample="chelsea"):
    path.parent.mkdir(parents=True, exist_ok=True)
    demo_image(sample).resize((48, 36)).save(path)
    return path


def _labelled(n_per_class: dict[str, int]) -> Dataset:
    """A labelled dataset whose files need not exist (splits never read pixels)."""
    labels = np.array([c for c, n in enumerate(n_per_class.values()) for _ in range(n)], np.int64)
    names = list(n_per_class)
    return Dataset("synthetic", [ImageRef(path=f"/x/{i}.jpg") for i in range(len(labels))], names,
                   [(i, int(c)) for i, c in enumerate(labels)], labels, names)


def _captioned(n_images: int, per_image: int) -> Dataset:
    texts = [f"image {i} caption {k}" for i in range(n_images) for k in range(per_image)]
    pairs = [(i, i * per_image + k) for i in range(n_images) for k in range(per_image)]
    return Dataset("captions", [ImageRef(path=f"/x/{i}.jpg") for i in range(n_images)], texts, pairs)


# --- labelled folders ----------------------------------------------------------------------
def test_folder_names_become_readable_label_texts():
    assert label_text("ankle_boot") == "ankle boot"
    assert label_text("  red__car ") == "red car"
    assert label_text("T-shirt or top") == "T-shirt or top"


def test_labelled_folders_give_one_class_per_folder_and_skip_junk(tmp_path):
    for name in ("a.jpg", "b.png", "deeper/c.jpeg"):
        _photo(tmp_path / "ankle_boot" / name)
    for name in ("d.jpg", "e.webp"):
        _photo(tmp_path / "Cat" / name)
    (tmp_path / "Cat" / "._d.jpg").write_bytes(b"AppleDouble")
    (tmp_path / "Cat" / ".DS_Store").write_bytes(b"junk")
    (tmp_path / "Cat" / "notes.txt").write_text("not an image")
    _photo(tmp_path / "Cat" / ".thumbnails" / "t.jpg")
    _photo(tmp_path / ".git" / "x.jpg")
    _photo(tmp_path / "__MACOSX" / "Cat" / "._d.jpg")
    (tmp_path / "empty_class").mkdir()

    dataset = load_labelled_folders(tmp_path, min_per_class=2)

    assert dataset.class_names == dataset.texts == ["ankle boot", "Cat"]
    names = [p.rsplit("/", 1)[-1] for p in (ref.path for ref in dataset.images)]
    assert sorted(names) == ["a.jpg", "b.png", "c.jpeg", "d.jpg", "e.webp"]
    assert dataset.labels.tolist() == [0, 0, 0, 1, 1]
    assert dataset.pairs == [(0, 0), (1, 0), (2, 0), (3, 1), (4, 1)]
    assert len(dataset.warnings) == 1 and "'empty class' has no images" in dataset.warnings[0]


def test_labelled_folders_from_a_nas_train_on_what_the_app_indexes(tmp_path):
    expected = write_nas_labelled_folders(tmp_path)  # HEIC, DNG, @eaDir, #recycle, $RECYCLE.BIN, ...
    dataset = load_labelled_folders(tmp_path, min_per_class=1)
    assert dataset.class_names == ["cats", "dogs"] and len(dataset.images) == sum(map(len, expected.values()))
    pixels = image_pixels(dataset, np.arange(len(dataset.images)), SPEC)
    paths = [dataset.images[i].path for i in pixels.indices]
    assert len(paths) == len(dataset.images) - 1 and len(pixels.skipped) == 1 and "notes.jpg" in pixels.skipped[0]
    for suffix in (".dng", ".HEIC"):  # decoded as the indexer decodes them, to the last bit
        (row,) = [k for k, path in enumerate(paths) if path.endswith(suffix)]
        app = preprocess(read_photo_file(paths[row], SPEC.resize_to).image, SPEC)
        np.testing.assert_array_equal(pixels.values[row], app)


def test_classes_with_too_few_images_are_kept_with_a_warning(tmp_path):
    for k in range(3):
        _photo(tmp_path / "dogs" / f"{k}.jpg")
    _photo(tmp_path / "cats" / "only.jpg")
    dataset = load_labelled_folders(tmp_path, min_per_class=3)
    assert dataset.class_names == ["cats", "dogs"] and len(dataset.images) == 4
    assert len(dataset.warnings) == 1 and "'cats' has only 1 image(s); at least 3" in dataset.warnings[0]


def test_a_single_class_folder_is_an_error_that_says_what_is_needed(tmp_path):
    _photo(tmp_path / "dogs" / "a.jpg")
    with pytest.raises(PicsiftError, match="at least two are needed"):
        load_labelled_folders(tmp_path)


# --- caption files -------------------------------------------------------------------------
def test_caption_csv_groups_captions_by_image_and_leaves_out_missing_files(tmp_path):
    _photo(tmp_path / "img" / "cat.jpg", "chelsea")
    _photo(tmp_path / "img" / "cup.jpg", "coffee")
    (tmp_path / "captions.csv").write_text(
        "Image,Caption\nimg/cat.jpg,a tabby cat\nimg/cup.jpg,a cup of coffee\n"
        'img/cat.jpg,"a cat, looking up"\nimg/gone.jpg,a lost photo\nimg/cup.jpg,\n', encoding="utf-8-sig")

    dataset = load_caption_csv(tmp_path / "captions.csv")

    assert [ref.path for ref in dataset.images] == [str(tmp_path / "img" / "cat.jpg"), str(tmp_path / "img" / "cup.jpg")]
    assert dataset.texts == ["a tabby cat", "a cat, looking up", "a cup of coffee"]
    assert dataset.pairs == [(0, 0), (0, 1), (1, 2)]
    assert dataset.labels is None and dataset.class_names is None
    assert len(dataset.warnings) == 1 and "1 listed image(s) not found" in dataset.warnings[0]
    assert "gone.jpg" in dataset.warnings[0]


def test_caption_csv_without_the_columns_says_which_are_needed(tmp_path):
    (tmp_path / "bad.csv").write_text("file,text\na.jpg,hello\n")
    with pytest.raises(PicsiftError, match="columns 'image' and 'caption'"):
        load_caption_csv(tmp_path / "bad.csv")


def test_coco_captions_pair_each_caption_with_its_image(tmp_path):
    for name, sample in (("000001.jpg", "chelsea"), ("000002.jpg", "rocket"), ("000003.jpg", "coffee")):
        _photo(tmp_path / "val2017" / name, sample)
    (tmp_path / "captions.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "000001.jpg"}, {"id": 2, "file_name": "000002.jpg"},
                   {"id": 3, "file_name": "000003.jpg"}],
        "annotations": [{"image_id": 2, "caption": "A rocket.\n"}, {"image_id": 1, "caption": "A cat."},
                        {"image_id": 2, "caption": "A launch pad."}],
    }))

    dataset = load_coco_captions(tmp_path / "captions.json", tmp_path / "val2017")

    assert [ref.path.rsplit("/", 1)[-1] for ref in dataset.images] == ["000001.jpg", "000002.jpg"]
    assert dataset.texts == ["A cat.", "A rocket.", "A launch pad."]
    assert dataset.pairs == [(0, 0), (1, 1), (1, 2)]
    assert dataset.warnings == [f"{tmp_path / 'captions.json'}: 1 image(s) have no caption and are left out"]


def test_karpathy_file_keeps_its_own_splits_with_restval_in_train(tmp_path):
    entries = [("train2014", "a.jpg", "train"), ("val2014", "b.jpg", "restval"),
               ("val2014", "c.jpg", "val"), ("val2014", "d.jpg", "test")]
    for folder, name, _ in entries:
        _photo(tmp_path / folder / name)
    images = [{"filepath": folder, "filename": name, "split": part,
               "sentences": [{"raw": f"{name} one"}, {"raw": f"{name} two"}]} for folder, name, part in entries]
    (tmp_path / "dataset_coco.json").write_text(json.dumps({"images": images, "dataset": "coco"}))

    train, val, test = load_karpathy(tmp_path / "dataset_coco.json", tmp_path)

    assert [ref.path for ref in train.images] == [str(tmp_path / "train2014/a.jpg"), str(tmp_path / "val2014/b.jpg")]
    assert train.texts == ["a.jpg one", "a.jpg two", "b.jpg one", "b.jpg two"]
    assert train.pairs == [(0, 0), (0, 1), (1, 2), (1, 3)]
    assert val.texts == ["c.jpg one", "c.jpg two"] and test.texts == ["d.jpg one", "d.jpg two"]


def test_flickr_style_entries_without_filepath_sit_in_the_image_root_and_a_split_may_be_empty(tmp_path):
    _photo(tmp_path / "1000.jpg")
    (tmp_path / "k.json").write_text(json.dumps({"images": [
        {"filename": "1000.jpg", "split": "test", "sentences": [{"raw": "a cat"}, {"raw": "a kitten"}]}]}))
    train, val, test = load_karpathy(tmp_path / "k.json", tmp_path)
    assert not train.images and not val.images
    assert [ref.path for ref in test.images] == [str(tmp_path / "1000.jpg")] and test.texts == ["a cat", "a kitten"]


# --- splits --------------------------------------------------------------------------------
def test_split_is_repeatable_disjoint_and_complete():
    dataset = _labelled({"cat": 20, "dog": 30, "boat": 10})
    first, again, other = split(dataset, seed=3), split(dataset, seed=3), split(dataset, seed=4)
    paths = [{ref.path for ref in part.images} for part in first]
    assert paths == [{ref.path for ref in part.images} for part in again]
    assert paths != [{ref.path for ref in part.images} for part in other]
    assert not (paths[0] & paths[1] or paths[0] & paths[2] or paths[1] & paths[2])
    assert set.union(*paths) == {ref.path for ref in dataset.images}


def test_split_cuts_every_class_in_the_same_proportions():
    train, val, test = split(_labelled({"cat": 20, "dog": 30, "boat": 10}), seed=0, val=0.1, test=0.2)
    assert np.bincount(val.labels).tolist() == [2, 3, 1]
    assert np.bincount(test.labels).tolist() == [4, 6, 2]
    assert np.bincount(train.labels).tolist() == [14, 21, 7]
    for part in (train, val, test):  # class texts all stay, so label c still names texts[c]
        assert part.texts == ["cat", "dog", "boat"]
        assert part.pairs == [(i, int(c)) for i, c in enumerate(part.labels)]


def test_split_keeps_all_captions_of_an_image_together():
    dataset = _captioned(n_images=40, per_image=5)
    parts = split(dataset, seed=1)
    assert [len(p.images) for p in parts] == [32, 4, 4]
    for part in parts:
        assert len(part.texts) == 5 * len(part.images)
        for image, text in part.pairs:  # image i is "/x/i.jpg", its captions "image i caption k"
            assert part.texts[text].startswith(f"image {part.images[image].path[3:-4]} caption")
    assert sorted(t for p in parts for t in p.texts) == sorted(dataset.texts)


# --- pixels --------------------------------------------------------------------------------
def test_unreadable_images_are_skipped_with_a_message_and_the_rest_kept(tmp_path, caplog):
    good = _photo(tmp_path / "good.jpg")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(_photo(tmp_path / "whole.jpg", "rocket").read_bytes()[:200])
    fake = tmp_path / "fake.png"
    fake.write_text("not a picture")
    dataset = _captioned(4, 1)
    dataset = Dataset("mixed", [ImageRef(path=str(p)) for p in (truncated, good, fake, good)], dataset.texts, dataset.pairs)

    with caplog.at_level(logging.WARNING, logger="trainer.data.sources"):
        pixels = image_pixels(dataset, [0, 1, 2, 3], SPEC)

    assert pixels.values.shape == (2, 3, 32, 32) and pixels.values.dtype == np.float32
    assert pixels.kept.tolist() == [False, True, False, True] and pixels.indices.tolist() == [1, 3]
    assert len(pixels.skipped) == 2
    assert "truncated.jpg" in pixels.skipped[0] and "fake.png" in pixels.skipped[1]
    assert sum("skipped" in r.message for r in caplog.records) == 2


def test_image_pixels_of_nothing_is_an_empty_batch():
    pixels = image_pixels(_captioned(2, 1), [], SPEC)
    assert pixels.values.shape == (0, 3, 32, 32) and pixels.indices.shape == (0,)


# --- Fashion-MNIST -------------------------------------------------------------------------
@needs_fashion_mnist
def test_fashion_mnist_sample_is_balanced_and_labelled_as_in_the_file():
    images, labels = read_fashion_mnist("test")
    dataset = load_fashion_mnist("test", limit=50, seed=0)
    rows = [ref.row for ref in dataset.images]
    assert images.shape == (10000, 28, 28) and len(rows) == len(set(rows)) == 50
    assert np.bincount(dataset.labels).tolist() == [5] * 10
    assert dataset.labels.tolist() == labels[rows].tolist()
    assert dataset.texts == list(FASHION_MNIST_CLASSES) and dataset.texts[9] == "Ankle boot"
    assert load_fashion_mnist("test", limit=50, seed=0).labels.tolist() == dataset.labels.tolist()
    assert image_pixels(dataset, range(50), SPEC).values.shape == (50, 3, 32, 32)


@needs_fashion_mnist
def test_fashion_mnist_folders_load_back_with_the_same_pixels(tmp_path):
    write_fashion_mnist_folders(tmp_path / "fm", per_class=2, split="test", seed=1)
    folders = load_labelled_folders(tmp_path / "fm", min_per_class=2)
    memory = load_fashion_mnist("test", limit=20, seed=1)

    assert sorted(folders.class_names) == sorted(FASHION_MNIST_CLASSES) and not folders.warnings
    by_row = {ref.row: i for i, ref in enumerate(memory.images)}
    order = [by_row[int(ref.path[-9:-4])] for ref in folders.images]  # files are <split>-<row>.png
    assert [folders.class_names[c] for c in folders.labels] == [memory.class_names[memory.labels[i]] for i in order]
    np.testing.assert_array_equal(image_pixels(folders, range(20), SPEC).values, image_pixels(memory, order, SPEC).values)
