"""Training data: images, texts and which go together, loaded from folders, caption files or Fashion-MNIST.

Every source becomes one `Dataset`: a list of images (a file, or a row of an in-memory uint8
array), a list of texts, and the (image, text) pairs that mean the same thing. Labelled folders
pair each image with its class text (`texts[c]` names class `c`, `labels[i]` is image i's class);
caption files pair each caption with its image, several captions per image. Loaders leave out
what they cannot use (missing files, junk, empty classes) and say so in `Dataset.warnings`;
images that turn out unreadable only when decoded are skipped by `image_pixels`, never fatal.
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from models.errors import ImageError, PicsiftError
from models.photo_files import is_photo_name, label_text, photo_files, subfolders
from models.preprocess import ImagePreprocess, load_and_preprocess, preprocess

log = logging.getLogger(__name__)

_MISSING_SHOWN = 3  # missing files named in a warning; the rest are counted

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian's package of the idx files
# The official names, but "T-shirt/top" as "T-shirt or top": a folder name cannot hold "/", and
# both Fashion-MNIST loaders must give a model the same text for a class.
FASHION_MNIST_CLASSES = ("T-shirt or top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
_FASHION_FILE_PREFIX = {"train": "train", "test": "t10k"}


@dataclass(frozen=True)
class ImageRef:
    """Where one image's pixels are: a file, or row `row` of its dataset's `arrays`."""

    path: str | None = None
    row: int | None = None


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images, texts and their pairs; see the module docstring for what each source puts here."""

    name: str  # where it came from, for messages, e.g. "folders /home/me/clothes"
    images: list[ImageRef]
    texts: list[str]
    pairs: list[tuple[int, int]]  # (image index, text index), one per matching image and text
    labels: np.ndarray | None = None  # (N,) int64 class of each image; None for captions
    class_names: list[str] | None = None  # class c's name, equal to texts[c]; None for captions
    arrays: np.ndarray | None = None  # (M, H, W) or (M, H, W, 3) uint8 pixels that ImageRef.row indexes
    warnings: list[str] = field(default_factory=list)  # what the loader left out, and why


@dataclass(frozen=True)
class Pixels:
    """Model inputs for the readable images of a request, in request order."""

    values: np.ndarray  # (K, 3, S, S) float32
    kept: np.ndarray  # (B,) bool: which requested images are in `values`
    indices: np.ndarray  # (K,) int64 dataset image index of each row of `values`
    skipped: list[str]  # one actionable message per unreadable image


# --- labelled folders ----------------------------------------------------------------------
def load_labelled_folders(root: str | Path, min_per_class: int = 5) -> Dataset:
    """One subfolder of `root` per class (searched recursively), the folder name its label text.

    Classes are numbered in case-insensitive name order. Photos are what the app's library
    scanner lists (models.photo_files: hidden files, AppleDouble "._x.jpg", Synology's @eaDir,
    recycle bins and non-images are ignored); classes with fewer than `min_per_class` images
    are kept with a warning, empty ones are dropped with one.
    """
    root = Path(root)
    if not root.is_dir():
        raise PicsiftError(f"{root}: folder not found; give a folder that holds one subfolder per class")
    warnings: list[str] = []
    by_label: dict[str, list[str]] = defaultdict(list)
    for folder in subfolders(root):
        label = label_text(os.path.basename(folder))
        if label in by_label:
            warnings.append(f"{folder}: its label {label!r} repeats another folder's; their images form one class")
        by_label[label].extend(photo_files(folder))
    loose = [p for p in root.iterdir() if is_photo_name(p.name) and p.is_file()]
    if loose:
        warnings.append(f"{root}: {len(loose)} image(s) lie outside any class folder and are ignored; move them into one")
    for label, files in by_label.items():
        if not files:
            warnings.append(f"{root}: class {label!r} has no images and is left out")
        elif len(files) < min_per_class:
            warnings.append(f"{root}: class {label!r} has only {len(files)} image(s); at least {min_per_class} "
                            "are needed to learn it and test it, so add photos or remove the folder")
    classes = [label for label, files in by_label.items() if files]
    if len(classes) < 2:
        raise PicsiftError(f"{root}: found {len(classes)} class folder(s) with images; at least two are needed")
    paths = [(path, c) for c, label in enumerate(classes) for path in by_label[label]]
    labels = np.array([c for _, c in paths], np.int64)
    return Dataset(name=f"folders {root}", images=[ImageRef(path=p) for p, _ in paths], texts=list(classes),
                   pairs=[(i, int(c)) for i, c in enumerate(labels)], labels=labels,
                   class_names=list(classes), warnings=warnings)


# --- caption files -------------------------------------------------------------------------
def load_caption_csv(path: str | Path) -> Dataset:
    """A CSV with columns `image,caption`, one row per caption; image paths relative to the CSV."""
    path = Path(path)
    captions: dict[str, list[str]] = defaultdict(list)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:  # -sig: spreadsheets write a BOM
            reader = csv.DictReader(handle)
            columns = {name.strip().lower(): name for name in reader.fieldnames or []}
            if "image" not in columns or "caption" not in columns:
                raise PicsiftError(f"{path}: needs a header row with columns 'image' and 'caption'")
            for row in reader:
                image, caption = (row[columns["image"]] or "").strip(), (row[columns["caption"]] or "").strip()
                if image and caption:
                    captions[str(path.parent / image)].append(caption)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise PicsiftError(f"{path}: cannot read the caption file ({exc})") from exc
    return _captioned(f"captions {path}", captions, path)


def load_coco_captions(json_path: str | Path, image_root: str | Path) -> Dataset:
    """MS-COCO's captions_*.json: {"images": [{"id", "file_name"}], "annotations": [{"image_id", "caption"}]}."""
    data = _read_json(json_path)
    try:
        files = {image["id"]: str(Path(image_root) / image["file_name"]) for image in data["images"]}
        captions: dict[str, list[str]] = {path: [] for path in files.values()}
        for note in data["annotations"]:
            captions[files[note["image_id"]]].append(note["caption"].strip())
    except (KeyError, TypeError, AttributeError) as exc:
        raise PicsiftError(f"{json_path}: not a COCO captions file (missing {exc})") from exc
    return _captioned(f"coco {json_path}", captions, json_path)


def load_karpathy(json_path: str | Path, image_root: str | Path) -> tuple[Dataset, Dataset, Dataset]:
    """(train, val, test) from a Karpathy split file (dataset_flickr30k.json, dataset_coco.json).

    Its own splits are kept so results compare with published ones; "restval" joins train, as usual.
    """
    data = _read_json(json_path)
    parts: dict[str, dict[str, list[str]]] = {"train": {}, "val": {}, "test": {}}
    try:
        for image in data["images"]:
            path = Path(image_root) / image.get("filepath", "") / image["filename"]
            part = "train" if image["split"] == "restval" else image["split"]
            parts[part][str(path)] = [s["raw"].strip() for s in image["sentences"]]
    except (KeyError, TypeError, AttributeError) as exc:
        raise PicsiftError(f"{json_path}: not a Karpathy split file (missing or unknown {exc})") from exc
    if not any(parts.values()):
        raise PicsiftError(f"{json_path}: lists no images; is it a Karpathy split file?")
    return tuple(_captioned(f"karpathy {part} {json_path}", parts[part], json_path, required=bool(parts[part]))
                 for part in ("train", "val", "test"))


def _read_json(path: str | Path) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PicsiftError(f"{path}: cannot read this JSON file ({exc})") from exc


def _captioned(name: str, captions: dict[str, list[str]], source: str | Path, required: bool = True) -> Dataset:
    """A caption dataset from {image path: captions}, leaving out missing files and uncaptioned images."""
    warnings = []
    missing = [p for p in captions if not os.path.isfile(p)]
    absent = set(missing)
    if missing:
        shown = ", ".join(missing[:_MISSING_SHOWN]) + (", ..." if len(missing) > _MISSING_SHOWN else "")
        warnings.append(f"{source}: {len(missing)} listed image(s) not found ({shown}); they are left out")
    bare = sum(1 for p, texts in captions.items() if not texts)
    if bare:
        warnings.append(f"{source}: {bare} image(s) have no caption and are left out")
    images, texts, pairs = [], [], []
    for path, captions_of_image in captions.items():
        if captions_of_image and path not in absent:
            pairs += [(len(images), len(texts) + k) for k in range(len(captions_of_image))]
            texts += captions_of_image
            images.append(ImageRef(path=path))
    if not images and required:
        raise PicsiftError(f"{source}: no captioned image was found; check the image folder given with it")
    return Dataset(name=name, images=images, texts=texts, pairs=pairs, warnings=warnings)


# --- Fashion-MNIST -------------------------------------------------------------------------
def read_fashion_mnist(split: str = "train", root: str | Path = FASHION_MNIST_DIR) -> tuple[np.ndarray, np.ndarray]:
    """split "train" (60000) or "test" (10000) -> images (N, 28, 28) uint8, labels (N,) uint8."""
    if split not in _FASHION_FILE_PREFIX:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")

    def read(kind: str, offset: int) -> np.ndarray:
        path = Path(root) / f"{_FASHION_FILE_PREFIX[split]}-{kind}-ubyte.gz"
        try:
            with gzip.open(path) as handle:
                return np.frombuffer(handle.read(), np.uint8, offset=offset)
        except OSError as exc:
            raise PicsiftError(f"{path}: cannot read Fashion-MNIST ({exc}); install it (Debian: fashion-mnist)") from exc

    return read("images-idx3", 16).reshape(-1, 28, 28), read("labels-idx1", 8)


def load_fashion_mnist(split: str = "train", limit: int | None = None, seed: int = 0,
                       root: str | Path = FASHION_MNIST_DIR) -> Dataset:
    """Fashion-MNIST in memory, class names as label texts; `limit` draws a class-balanced sample.

    Image refs keep the official row numbers, so "fashion-mnist train #123" is row 123 of the file.
    """
    images, labels = read_fashion_mnist(split, root)
    rows = np.arange(len(labels)) if limit is None or limit >= len(labels) else _balanced_sample(labels, limit, seed)
    chosen = labels[rows].astype(np.int64)
    return Dataset(name=f"fashion-mnist {split}", images=[ImageRef(row=int(r)) for r in rows],
                   texts=list(FASHION_MNIST_CLASSES), pairs=[(i, int(c)) for i, c in enumerate(chosen)],
                   labels=chosen, class_names=list(FASHION_MNIST_CLASSES), arrays=images)


def _balanced_sample(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of n items drawn round-robin over the classes (class sizes differ by <= 1)."""
    order = np.random.default_rng(seed).permutation(len(labels))
    rank = np.empty(len(labels), np.int64)  # each item's draw order within its class
    for c in np.unique(labels):
        members = order[labels[order] == c]
        rank[members] = np.arange(len(members))
    return np.sort(order[np.argsort(rank[order], kind="stable")[:n]])


def write_fashion_mnist_folders(dest: str | Path, per_class: int, split: str = "train", seed: int = 0,
                                root: str | Path = FASHION_MNIST_DIR) -> Path:
    """Write `per_class` Fashion-MNIST images of each class as PNGs in labelled folders under `dest`.

    Files are `<class>/<split>-<row>.png`; the same arguments write the same files. Returns `dest`.
    """
    dataset = load_fashion_mnist(split, limit=per_class * len(FASHION_MNIST_CLASSES), seed=seed, root=root)
    dest = Path(dest)
    for ref, label in zip(dataset.images, dataset.labels):
        folder = dest / dataset.class_names[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(dataset.arrays[ref.row]).save(folder / f"{split}-{ref.row:05d}.png")
    return dest


# --- splits --------------------------------------------------------------------------------
def subset(dataset: Dataset, image_indices) -> Dataset:
    """The dataset restricted to `image_indices` (in that order) and their pairs.

    Class texts all stay (so label c still names texts[c]); captions stay with their images.
    """
    keep = np.asarray(image_indices, np.int64)
    new_index = {int(old): new for new, old in enumerate(keep)}
    pairs = sorted((new_index[i], t) for i, t in dataset.pairs if i in new_index)
    texts = dataset.texts
    if dataset.labels is None:
        used = sorted({t for _, t in pairs})
        new_text = {old: new for new, old in enumerate(used)}
        texts, pairs = [dataset.texts[t] for t in used], [(i, new_text[t]) for i, t in pairs]
    return Dataset(name=dataset.name, images=[dataset.images[i] for i in keep], texts=list(texts), pairs=pairs,
                   labels=None if dataset.labels is None else dataset.labels[keep],
                   class_names=dataset.class_names, arrays=dataset.arrays)


def split(dataset: Dataset, seed: int, val: float = 0.1, test: float = 0.1,
          stratify: bool = True) -> tuple[Dataset, Dataset, Dataset]:
    """(train, val, test), the same for the same seed; each image lands in exactly one part.

    With labels and `stratify`, every class is cut in the same proportions (a class's share is
    rounded half up, so a class of 5 gives 3/1/1 at 10%). Captions follow their image.
    """
    if val < 0 or test < 0 or val + test >= 1:
        raise ValueError(f"val={val} and test={test} must be >= 0 and leave some data to train on")
    rng = np.random.default_rng(seed)
    if stratify and dataset.labels is not None:
        groups = [np.flatnonzero(dataset.labels == c) for c in range(len(dataset.texts))]
    else:
        groups = [np.arange(len(dataset.images))]
    parts: tuple[list, list, list] = ([], [], [])
    for group in groups:
        order = rng.permutation(group)
        n_test, n_val = (int(np.floor(len(order) * share + 0.5)) for share in (test, val))
        for part, chunk in zip(parts, (order[n_test + n_val:], order[n_test:n_test + n_val], order[:n_test])):
            part.append(chunk)
    return tuple(subset(dataset, np.sort(np.concatenate(p)).astype(np.int64)) for p in parts)


# --- pixels --------------------------------------------------------------------------------
def image_pixels(dataset: Dataset, indices, spec: ImagePreprocess, workers: int | None = None) -> Pixels:
    """Model inputs for images `indices`; unreadable ones are left out with a logged message.

    Files go through models.photo_reader, as the app's indexer reads them; in-memory arrays through
    PIL.Image.fromarray(...).convert("RGB") and the same `preprocess`. Decoding runs on
    `workers` threads (Pillow releases the GIL while it decodes and resizes).
    """
    indices = np.asarray(indices, np.int64)
    workers = workers or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda i: _pixels_or_reason(dataset, int(i), spec), indices))
    kept = np.array([not isinstance(r, str) for r in results], bool)
    skipped = [r for r in results if isinstance(r, str)]
    for message in skipped:
        log.warning("skipped %s", message)
    values = [r for r in results if not isinstance(r, str)]
    values = np.stack(values) if values else np.zeros((0, 3, spec.size, spec.size), np.float32)
    return Pixels(values=values, kept=kept, indices=indices[kept], skipped=skipped)


def _pixels_or_reason(dataset: Dataset, index: int, spec: ImagePreprocess) -> np.ndarray | str:
    """(3, S, S) model input, or the reason this image cannot be read."""
    ref = dataset.images[index]
    if ref.path is None:
        return preprocess(Image.fromarray(dataset.arrays[ref.row]).convert("RGB"), spec)
    try:
        return load_and_preprocess(ref.path, spec)
    except ImageError as exc:
        return str(exc)

