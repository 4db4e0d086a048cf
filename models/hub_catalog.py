"""The curated hub models picsift can convert (models/data/hub_models.json), and what one costs: disk and time.

The list is data; this module loads it into `HubModel`s, checks every entry (a bad one is a bug,
raised as ValueError and caught by tests/models/test_hub_catalog.py), and estimates, for a library
of N photos:
    indexing time  N x (gflops_image / machine GFLOP/s + decode seconds per photo)
    disk           the download, the bundle (float32 weights: parameters x 4) and the new vectors
                   (the catalog's float16 features and the search index's float16 graph)
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models import paths, registry
from models.display import file_size, plural
from models.errors import DiskFullError, PicsiftError

CATALOG_FILE = Path(__file__).parent / "data" / "hub_models.json"
FORMAT_VERSION = 1
FAMILIES = ("clip", "siglip", "altclip", "align", "groupvit")  # transformers model_type of each entry
MARKERS = ("cpu", "gpu")  # recommended-for markers; each is on exactly one entry
_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?")  # owner/name, or a legacy bare name
_MULTILINGUAL = re.compile(r"^multilingual \((\d+) languages\)$")

# Machine speed. Throughput of picsift's ONNX Runtime image towers on the CPU, as a fraction of a
# 512 x 512 numpy float32 matmul's GFLOP/s on the same cores, measured interleaved in one run by
# tests/benchmarks/hub_speed.py (results/hub_speed.json, 2 cores): a ViT-B/32 tower ran at 132
# GFLOP/s against the matmul's 169 (0.78); the built-in EfficientNet-Lite2 at 0.49 (depthwise
# convolutions use the cores less well). The ViT figure stands for the list: all but ALIGN are ViTs.
TOWER_EFFICIENCY = 0.78
# Reading, hashing, draft-decoding and preprocessing a 12-megapixel JPEG: 34.3 photos/s on 2 cores
# (tests/benchmarks/results/indexing.json, decode-only), i.e. 0.058 core-seconds a photo. Added to
# the model's time rather than overlapped: on 2 cores picsift's pipeline ran at 97% of the serial sum.
DECODE_CORE_SECONDS = 2 / 34.3
_MATMUL_SIDE = 512  # a 512 x 512 float32 matmul: big enough for BLAS to reach its speed, ~1 ms a call
# The graph degree of desktop/core/vector_search.py (its HNSW_M), for the index's bytes per photo
# (index_bytes_per_photo: checked against a saved index by the tests).
HNSW_M = 24
CATALOG_FEATURE_BYTES = 2  # the catalog stores the image tower's pooled features as float16


@dataclass(frozen=True)
class PublishedFigure:
    """One published zero-shot result of a model (or of the model named by `of`)."""

    benchmark: str  # "ImageNet", "Flickr30K", "MS-COCO 5K", ...
    metric: str  # "top-1", "text->image R@1", ... (all percentages)
    value: float
    source: str  # a citation from the catalog's "sources"
    of: str = ""  # the model it was measured on, when not exactly this checkpoint

    def label(self) -> str:
        """`ImageNet top-1 63.2`, with the measured model when it differs."""
        return f"{self.benchmark} {self.metric} {self.value:.1f}" + (f" ({self.of})" if self.of else "")


@dataclass(frozen=True)
class HubModel:
    """One entry of the curated list."""

    hub_id: str  # "owner/name" on the Hugging Face hub
    name: str  # what a person reads
    family: str  # one of FAMILIES
    download_bytes: int  # weights + configs + tokenizer files a conversion fetches
    parameters: int
    image_size: int  # pixels, square
    image_feature_dim: int  # the image tower's pooled width: what the catalog stores per photo
    embedding_dim: int  # the shared space: what the search index stores per photo
    languages: str  # "en", "en, zh" or "multilingual (N languages)"
    published: tuple[PublishedFigure, ...]
    gflops_image: float  # one image through the image tower (2 FLOPs per multiply-add)
    gflops_text: float  # one full-context query through the text tower
    licence: str
    recommended: tuple[str, ...] = ()  # markers from MARKERS

    @property
    def bundle_name(self) -> str:
        """The name `picsift model convert HUB_ID` installs it under."""
        return bundle_name_for(self.hub_id)

    @property
    def multilingual(self) -> bool:
        return self.languages != "en"

    @property
    def headline(self) -> PublishedFigure:
        """The figure a one-line listing shows: the first measured on this very checkpoint, else the first."""
        return next((figure for figure in self.published if not figure.of), self.published[0])


@dataclass(frozen=True)
class DiskNeed:
    """Bytes a model takes before it can search a library; see `disk_needed`."""

    download_bytes: int  # the hub files, in the download folder
    bundle_bytes: int  # the installed bundle, in paths.models_dir()
    vectors_bytes: int  # the library's new features and index, in paths.data_dir()

    @property
    def total(self) -> int:
        return self.download_bytes + self.bundle_bytes + self.vectors_bytes


@dataclass(frozen=True)
class Machine:
    """How fast this computer runs an image tower and prepares a photo for it."""

    gflops_per_s: float  # sustained image-tower throughput
    decode_seconds: float  # reading and decoding one photo, on all cores
    basis: str  # how the figures were found, for a person to judge them


# --- the list -----------------------------------------------------------------------------------
def bundle_name_for(source: str) -> str:
    """"openai/clip-vit-base-patch32" -> "clip-vit-base-patch32"; a folder -> its name (the converter's naming)."""
    return registry.safe_name(Path(source.rstrip("/\\")).name)


def check_hub_id(text: str) -> str:
    """A hub model id as the hub spells them, else a PicsiftError saying what one looks like."""
    if not _HUB_ID.fullmatch(text or "") or ".." in text:
        raise PicsiftError(f"{text!r} is not a hub model id; give it as owner/name, e.g. openai/clip-vit-base-patch32")
    return text


@functools.cache
def hub_models() -> tuple[HubModel, ...]:
    """The curated list shipped with picsift, in its file's order."""
    return load_catalog(CATALOG_FILE)


def load_catalog(path: str | os.PathLike) -> tuple[HubModel, ...]:
    """Read and check a catalog file; a ValueError names the entry and field that is wrong."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: format_version {data.get('format_version')!r}, this picsift reads {FORMAT_VERSION}")
    sources = {source["id"]: source["citation"] for source in data["sources"]}
    models = tuple(_entry(raw, sources) for raw in data["models"])
    _check_whole(models)
    return models


def find(hub_id: str) -> HubModel | None:
    """The curated entry for a hub id (case-insensitive, as the hub is), None when it is not listed."""
    return next((model for model in hub_models() if model.hub_id.lower() == hub_id.lower()), None)


def _entry(raw: dict, sources: dict[str, str]) -> HubModel:
    where = f"hub model {raw.get('hub_id', '?')!r}"
    try:
        model = HubModel(
            hub_id=_typed(raw, "hub_id", str), name=_typed(raw, "name", str), family=_typed(raw, "family", str),
            download_bytes=_typed(raw, "download_bytes", int), parameters=_typed(raw, "parameters", int),
            image_size=_typed(raw, "image_size", int), image_feature_dim=_typed(raw, "image_feature_dim", int),
            embedding_dim=_typed(raw, "embedding_dim", int), languages=_languages(raw["languages"]),
            published=tuple(_figure(figure, sources) for figure in raw["published"]),
            gflops_image=float(_typed(raw, "gflops_image", (int, float))),
            gflops_text=float(_typed(raw, "gflops_text", (int, float))),
            licence=_typed(raw, "licence", str), recommended=tuple(raw.get("recommended", ())),
        )
        _check_entry(model, raw)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from exc
    return model


def _typed(raw: dict, field: str, kind):
    value = raw[field]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{field} is {value!r}, not {getattr(kind, '__name__', 'a number')}")
    return value


def _languages(value) -> str:
    """"en" | ["en", "zh"] | "multilingual (N languages)" -> the text a listing shows."""
    if isinstance(value, list) and value and all(isinstance(code, str) and code.isalpha() for code in value):
        return ", ".join(value)
    if value == "en" or (isinstance(value, str) and _MULTILINGUAL.match(value)):
        return value
    raise ValueError(f"languages is {value!r}, not \"en\", a list of language codes or \"multilingual (N languages)\"")


def _figure(raw: dict, sources: dict[str, str]) -> PublishedFigure:
    if raw["source"] not in sources:
        raise ValueError(f"published figure cites {raw['source']!r}, which is not in the catalog's sources")
    value = _typed(raw, "value", (int, float))
    if not 0 < value <= 100:
        raise ValueError(f"published figure {value!r} is not a percentage")
    return PublishedFigure(_typed(raw, "benchmark", str), _typed(raw, "metric", str), float(value),
                           sources[raw["source"]], raw.get("of", ""))


def _check_entry(model: HubModel, raw: dict) -> None:
    if not _HUB_ID.fullmatch(model.hub_id) or "/" not in model.hub_id:
        raise ValueError("hub_id is not owner/name")
    if model.family not in FAMILIES:
        raise ValueError(f"family {model.family!r} is not one of {', '.join(FAMILIES)}")
    counts = ("download_bytes", "parameters", "image_size", "image_feature_dim", "embedding_dim", "gflops_image", "gflops_text")
    if any(getattr(model, field) <= 0 for field in counts):
        raise ValueError(f"{', '.join(counts)} must all be positive")
    if model.download_bytes < 2 * model.parameters:  # even float16 weights take 2 bytes a parameter
        raise ValueError(f"download_bytes {model.download_bytes} is less than the weights of {model.parameters} parameters")
    if not model.published:
        raise ValueError("no published figure")
    if not raw.get("gflops_source"):
        raise ValueError("gflops_source is missing: say where gflops_image and gflops_text come from")
    if set(model.recommended) - set(MARKERS):
        raise ValueError(f"recommended {list(model.recommended)} holds markers other than {', '.join(MARKERS)}")


def _check_whole(models: tuple[HubModel, ...]) -> None:
    ids = [model.hub_id.lower() for model in models]
    if len(set(ids)) != len(ids):
        raise ValueError("a hub id is listed twice")
    for marker in MARKERS:
        marked = [model.hub_id for model in models if marker in model.recommended]
        if len(marked) != 1:
            raise ValueError(f"{len(marked)} models are recommended for {marker!r}; mark exactly one")


# --- installed ----------------------------------------------------------------------------------
def installed_bundles(models: tuple[HubModel, ...] | None = None) -> dict[str, str]:
    """hub id -> the installed bundle made from it: a bundle whose provenance names the hub id as
    its base weights (fine-tuned ones included), or one with the converter's name for it."""
    models = hub_models() if models is None else models
    bundles = registry.list_bundles()
    weights = {bundle.name: bundle.base_weights.lower() for bundle in bundles if not bundle.problem}
    found = {}
    for model in models:
        names = [name for name, base in weights.items() if base == model.hub_id.lower()]
        names += [name for name in weights if name == model.bundle_name and name not in names]
        if names:
            found[model.hub_id] = model.bundle_name if model.bundle_name in names else names[0]
    return found


# --- estimates ----------------------------------------------------------------------------------
def disk_needed(model: HubModel, photos: int) -> DiskNeed:
    """Bytes to download `model`, install its bundle and index `photos` photos with it."""
    per_photo = CATALOG_FEATURE_BYTES * model.image_feature_dim + index_bytes_per_photo(model.embedding_dim)
    return DiskNeed(model.download_bytes, 4 * model.parameters, photos * per_photo)


def index_bytes_per_photo(dim: int, m: int = HNSW_M) -> int:
    """What desktop/core/vector_index.py saves per vector of `dim` floats: its segment file's float16 vector
    and graph row (level-0 links, their count, key and level), and its label and slot in the rows file."""
    return 2 * dim + 4 * 2 * m + 20 + 12


def indexing_seconds(model: HubModel, photos: int, machine: Machine) -> float:
    """Seconds to index `photos` new photos with `model` on `machine` (decode and model, one after the other)."""
    return photos * (model.gflops_image / machine.gflops_per_s + machine.decode_seconds)


@functools.cache
def measure_machine() -> Machine:
    """This computer's speed: `matmul_gflops` times TOWER_EFFICIENCY (a quarter of a second, once a process)."""
    peak = matmul_gflops()
    cores = os.cpu_count() or 1
    return Machine(peak * TOWER_EFFICIENCY, DECODE_CORE_SECONDS / cores,
                   f"numpy matmul {peak:.0f} GFLOP/s x {TOWER_EFFICIENCY} (ONNX Runtime ViT on CPU), {cores} cores")


def matmul_gflops(seconds: float = 0.25) -> float:
    """GFLOP/s of a 512 x 512 float32 matmul, the best call in about `seconds` (20 calls at least):
    the best is what the cores give when nothing else runs; a mean wanders 10x on a busy machine."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((_MATMUL_SIDE, _MATMUL_SIDE), dtype=np.float32) for _ in range(2))
    a @ b  # BLAS starts its threads
    best, calls, deadline = float("inf"), 0, time.perf_counter() + seconds
    while calls < 20 or time.perf_counter() < deadline:
        started = time.perf_counter()
        a @ b
        best, calls = min(best, time.perf_counter() - started), calls + 1
    return 2 * _MATMUL_SIDE**3 / best / 1e9


# A conversion holds the float32 weights in torch, the exported graphs while they are written, and an
# ONNX Runtime session of them for the parity gate: about three copies of the weights at its peak.
CONVERSION_WEIGHT_COPIES = 3


def conversion_memory_bytes(model: HubModel) -> int:
    return CONVERSION_WEIGHT_COPIES * 4 * model.parameters


def physical_memory_bytes() -> int | None:
    """This computer's RAM, None where the OS does not say (Windows has no sysconf)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(model: HubModel, memory: int | None = None) -> None:
    """Raise PicsiftError before downloading when the conversion cannot fit in this computer's memory."""
    memory = physical_memory_bytes() if memory is None else memory
    need = conversion_memory_bytes(model)
    if memory is not None and memory < need:
        raise PicsiftError(f"converting {model.name} needs about {file_size(need)} of memory and this computer has "
                           f"{file_size(memory)}; choose a smaller model")


def check_fits(model: HubModel, photos: int, download_dir: str | os.PathLike | None = None,
               free_space: Callable[[Path], int] | None = None) -> DiskNeed:
    """Raise DiskFullError, before anything is downloaded, when a disk lacks room for its share of
    `disk_needed`; folders on one disk add up. Returns the need when everything fits."""
    need = disk_needed(model, photos)
    free_space = free_space or (lambda folder: shutil.disk_usage(folder).free)
    shares = [(Path(download_dir) if download_dir else paths.cache_dir(), need.download_bytes),
              (paths.models_dir(), need.bundle_bytes), (paths.data_dir(), need.vectors_bytes)]
    by_disk: dict[int, tuple[Path, int]] = {}
    for folder, count in shares:
        folder = _existing(folder)
        first, total = by_disk.get(folder.stat().st_dev, (folder, 0))
        by_disk[folder.stat().st_dev] = (first, total + count)
    for folder, wanted in by_disk.values():
        free = free_space(folder)
        if free < wanted:
            raise DiskFullError(
                f"{model.name} needs {file_size(wanted)} on the disk holding {folder} (download {file_size(need.download_bytes)}, "
                f"bundle {file_size(need.bundle_bytes)}, vectors for {plural(photos, 'photo')} {file_size(need.vectors_bytes)}) "
                f"and {file_size(free)} is free; free {file_size(wanted - free)} there or choose a smaller model"
            )
    return need


def _existing(folder: Path) -> Path:
    """The folder, or its nearest existing parent (a download folder may not exist yet)."""
    folder = folder.absolute()
    while not folder.exists():
        folder = folder.parent
    return folder
