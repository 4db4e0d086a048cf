"""A training run's data: one source (folders, captions, Karpathy, Fashion-MNIST) cut into train/val/test.

Labelled data pairs every image with its class text and is searched by those texts; caption
data pairs each image with its captions. Splits are deterministic for a seed: trainer.data.sources.split
(stratified, 80/10/10) for folders and caption files, the file's own splits for Karpathy, and
for Fashion-MNIST train/val from the official train set and test from the official test set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.errors import PicsiftError
from trainer.data.sources import (
    Dataset,
    load_caption_csv,
    load_coco_captions,
    load_fashion_mnist,
    load_karpathy,
    load_labelled_folders,
    split,
    subset,
)

FORMATS = ("folders", "csv", "coco", "karpathy", "fashion-mnist")
VAL_SHARE = 0.1  # of the images, per class for labelled data
TEST_SHARE = 0.1
FASHION_TEST_LIMIT = 1000  # official test images used when --limit-per-class is not given (100 per class)


@dataclass(frozen=True)
class Splits:
    """train / val / test parts of one source; every image lies in exactly one part."""

    train: Dataset
    val: Dataset
    test: Dataset
    source: str  # the --data argument
    format: str  # one of FORMATS

    @property
    def labelled(self) -> bool:
        return self.train.labels is not None

    @property
    def classes(self) -> list[str] | None:
        return self.train.class_names

    def summary(self) -> dict:
        """What the manifest and report record about the data."""
        return {
            "source": self.source,
            "format": self.format,
            "kind": "labelled" if self.labelled else "captions",
            "classes": self.classes,
            "train_size": len(self.train.images),
            "val_size": len(self.val.images),
            "test_size": len(self.test.images),
            "train_texts": len(self.train.texts),
            "split": "official" if self.format in ("karpathy", "fashion-mnist") else
                     f"seeded {1 - VAL_SHARE - TEST_SHARE:.0%}/{VAL_SHARE:.0%}/{TEST_SHARE:.0%} of the images",
        }


def detect_format(data: str) -> str:
    """The --format a source most likely has: a folder of class folders, a .csv, or a COCO/Karpathy .json."""
    if data.lower() in ("fashion-mnist", "fashion_mnist"):
        return "fashion-mnist"
    path = Path(data)
    if path.is_dir():
        return "folders"
    if path.suffix.lower() == ".csv":
        return "csv"
    if path.suffix.lower() == ".json":
        return "karpathy" if _looks_like_karpathy(path) else "coco"
    if not path.exists():
        raise PicsiftError(f"{data}: no such file or folder; give a folder of class folders, a caption .csv or .json, "
                           "or 'fashion-mnist'")
    raise PicsiftError(f"{data}: cannot tell its format; pass --format {'|'.join(FORMATS)}")


def _looks_like_karpathy(path: Path) -> bool:
    head = path.open(encoding="utf-8", errors="replace").read(4096)
    return '"split"' in head and '"sentences"' in head


def load_splits(data: str, fmt: str | None = None, images: str | None = None, seed: int = 0,
                limit_per_class: int | None = None) -> Splits:
    """Load `data` and cut it; raises PicsiftError (one actionable line) when it cannot be trained on."""
    fmt = fmt or detect_format(data)
    if fmt not in FORMATS:
        raise PicsiftError(f"unknown data format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "fashion-mnist":
        pool = load_fashion_mnist("train", limit=None if limit_per_class is None else limit_per_class * 10, seed=seed)
        train, val, _ = split(pool, seed, val=VAL_SHARE, test=0.0)
        test_limit = FASHION_TEST_LIMIT if limit_per_class is None else min(FASHION_TEST_LIMIT, limit_per_class * 10)
        test = load_fashion_mnist("test", limit=test_limit, seed=seed)
        return _checked(Splits(train, val, test, data, fmt))
    if fmt == "karpathy":
        train, val, test = load_karpathy(data, _image_root(images, data))
        return _checked(Splits(_limited(train, limit_per_class, seed), val, test, data, fmt))
    if fmt == "folders":
        dataset = load_labelled_folders(data)
    elif fmt == "csv":
        dataset = load_caption_csv(data)
    else:
        dataset = load_coco_captions(data, _image_root(images, data))
    train, val, test = split(_limited(dataset, limit_per_class, seed), seed, val=VAL_SHARE, test=TEST_SHARE)
    return _checked(Splits(train, val, test, data, fmt))


def load_whole(data: str, fmt: str | None = None, images: str | None = None, seed: int = 0,
               limit_per_class: int | None = None) -> Dataset:
    """Every image of a source, unsplit, for `evaluate --split all` (Fashion-MNIST: its official test set;
    Karpathy: its test split, as published results use)."""
    fmt = fmt or detect_format(data)
    if fmt == "fashion-mnist":
        return load_fashion_mnist("test", limit=None if limit_per_class is None else limit_per_class * 10, seed=seed)
    if fmt == "karpathy":
        return load_karpathy(data, _image_root(images, data))[2]
    if fmt == "folders":
        return _limited(load_labelled_folders(data), limit_per_class, seed)
    if fmt == "csv":
        return _limited(load_caption_csv(data), limit_per_class, seed)
    if fmt == "coco":
        return _limited(load_coco_captions(data, _image_root(images, data)), limit_per_class, seed)
    raise PicsiftError(f"unknown data format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _image_root(images: str | None, data: str) -> str:
    if images is None:
        return str(Path(data).parent)
    if not Path(images).is_dir():
        raise PicsiftError(f"{images}: image folder not found; --images must be the folder the caption file names images in")
    return images


def _limited(dataset: Dataset, per_class: int | None, seed: int) -> Dataset:
    """At most `per_class` images of each class (a seeded draw); for captions, at most that many images."""
    if per_class is None:
        return dataset
    if per_class < 1:
        raise PicsiftError(f"--limit-per-class must be at least 1, not {per_class}")
    rng = np.random.default_rng(seed)
    if dataset.labels is None:
        keep = np.sort(rng.permutation(len(dataset.images))[:per_class])
    else:
        keep = np.sort(np.concatenate([rng.permutation(np.flatnonzero(dataset.labels == c))[:per_class]
                                       for c in range(len(dataset.texts))]))
    return subset(dataset, keep)


def _checked(splits: Splits) -> Splits:
    for name, part in (("train", splits.train), ("val", splits.val), ("test", splits.test)):
        if not part.images:
            raise PicsiftError(f"{splits.source}: the {name} split is empty; add images (at least 3 per class, "
                               "10 or more to learn anything)")
    if splits.labelled:
        present = np.unique(splits.train.labels)
        if len(present) < 2:
            raise PicsiftError(f"{splits.source}: the training split holds {len(present)} class; at least two are needed")
    return splits
