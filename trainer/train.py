"""A training run end to end: data -> base model -> stages (text, image, mapper) -> export -> test -> install.

    python -m trainer train --data PATH --stages image,mapper --objective infonce --name NAME

Read `run` top to bottom. Stages run in the order text, image, mapper, each only when asked
for; each picks its best epoch on the validation split, and only the finished model meets the
test split, through the exported bundle's ONNX graphs (as the app will run it), next to the
base model's zero-shot figures on the same images. The bundle is installed under --name with
report.json and curves.png inside it. Under torchrun every process trains; only the first
writes checkpoints, the bundle and the report, and reports progress.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from models import paths, registry
from models.errors import PicsiftError
from models.manifest import read_manifest
from models.model_card import CARD_FILE, model_card
from models.runtime import ModelRuntime
from models.trainer_protocol import BASELINE, EVALUATE, task_label
from trainer.base import load_base, sample_pixels
from trainer.data.splits import load_splits
from trainer.evaluation.retrieval import evaluate_bundle
from trainer.export.bundle import export_bundle
from trainer.losses import OBJECTIVES
from trainer.progress import CancelFlag, Events
from trainer.report import (
    CURVES_FILE,
    plot_curves,
    set_provenance,
    training_provenance,
    write_report,
)
from trainer.stages import distributed
from trainer.stages.checkpoint import CHECKPOINT_FILE, Checkpoint, load_trained_state
from trainer.stages.features import Encoding
from trainer.stages.loop import RunContext, StageSettings, fit
from trainer.stages.protocol import Stage

STAGES = ("text", "image", "mapper")  # the order stages run in
# Per stage: (epochs, peak learning rate, batch size per process) when TrainConfig leaves them None.
STAGE_DEFAULTS = {"text": (3, 2e-5, 64), "image": (3, 3e-4, 64), "mapper": (30, 1e-3, 256)}
MIX_WEIGHT = 0.5  # default a: label queries at their best on val, general search kept best (tests/benchmarks/fine_tune.py)
SAMPLE_TEXTS = ["a photo of a cat", "a cup of coffee on a wooden table", "rocket", "boats on a lake at sunset"]


@dataclass
class TrainConfig:
    """Everything a run depends on; saved in its checkpoint and report."""

    data: str  # labelled folder, caption .csv/.json, or "fashion-mnist"
    format: str | None = None  # folders|csv|coco|karpathy|fashion-mnist; None = detected from `data`
    images: str | None = None  # folder a COCO/Karpathy file's image paths are relative to (default: beside it)
    limit_per_class: int | None = None  # at most this many images per class (seeded draw), for quick runs
    stages: tuple[str, ...] = ("mapper",)  # which of STAGES to run
    objective: str = "infonce"  # the mapper stage's loss, a name in trainer.losses.OBJECTIVES
    temperature: float | None = None  # the objective's temperature (infonce, supcon, prototype); None = its default
    stage_temperature: float = 0.1  # SupCon temperature of the text and image stages
    base: str | None = None  # model to start from (trainer.base); None = the built-in model
    keep_images: float = 1.0  # share of mapper-stage training items that keep their image (modality imbalance study)
    keep_texts: float = 1.0  # share that keep their text; the rest train one side only
    mix_weight: float = MIX_WEIGHT  # a: the trained space's share of the exported cosine; the rest is the base's
    mapper_dim: int = 256  # width of the trained linear space (built-in family; others keep their projection's)
    image_blocks: int | None = 2  # last image-tower blocks (and what follows) the image stage trains; None = all
    text_blocks: int | None = 2  # last text-tower layers (and what follows) the text stage trains; None = all
    epochs: int | None = None  # epochs of every stage; None = STAGE_DEFAULTS
    lr: float | None = None  # peak learning rate of every stage; None = STAGE_DEFAULTS
    batch_size: int | None = None  # items per step per process; None = STAGE_DEFAULTS
    per_label: int = 4  # items of one label drawn together into a batch (positives for the loss)
    weight_decay: float = 0.01  # AdamW's decoupled weight decay
    warmup_fraction: float = 0.05  # share of a stage's steps with linear warmup
    seed: int = 0  # splits, batch order, initial weights
    device: str = "auto"  # auto|cpu|cuda; mixed precision (torch.autocast) on CUDA only
    name: str = ""  # installed bundle name; "" = "<data name>-tuned"
    replace: bool = False  # overwrite an installed bundle of that name
    resume: bool = False  # continue from the run's checkpoint
    progress: str = "bar"  # bar (tqdm on stderr) | jsonl (trainer.progress's contract on stdout)
    debug_weights_dir: str | None = None  # tests: each process writes a checksum of its final weights here

    def stage_settings(self, stage: str) -> StageSettings:
        epochs, lr, batch_size = STAGE_DEFAULTS[stage]
        return StageSettings(epochs=self.epochs or epochs, lr=self.lr or lr, batch_size=self.batch_size or batch_size,
                             per_label=self.per_label, weight_decay=self.weight_decay,
                             warmup_fraction=self.warmup_fraction, seed=self.seed)

    def bundle_name(self) -> str:
        if self.name:
            return self.name
        stem = Path(self.data.rstrip("/\\")).stem or "data"
        return registry.safe_name(f"{stem}-tuned")


def train(config: TrainConfig, events: Events, cancel: CancelFlag) -> dict:
    """Run `config`; returns the done event's fields. Raises PicsiftError, or Cancelled after checkpointing."""
    world, device = distributed.start(config.device)
    try:
        return run(config, world, device, events, cancel)
    finally:
        distributed.stop(world)


def run(config: TrainConfig, world: distributed.World, device: torch.device, events: Events, cancel: CancelFlag) -> dict:
    started, timings = time.perf_counter(), {}
    name, stages = _checked(config)
    torch.manual_seed(config.seed)  # initial weights of trained mappers and heads
    clock = time.perf_counter()
    splits = load_splits(config.data, config.format, config.images, config.seed, config.limit_per_class)
    for warning in splits.train.warnings:
        events.log(f"warning: {warning}")
    events.start(stages, splits.summary())
    with distributed.main_first(world):  # a missing built-in model or a transformers base is exported once
        base = load_base(config.base, events.log)
    runtime = ModelRuntime(base.bundle, device="cuda" if device.type == "cuda" else "cpu")
    timings["load"] = _lap(clock)

    clock = time.perf_counter()
    baseline = {}
    if world.main:  # the base model's own figures, through its own bundle
        baseline = {split: evaluate_bundle(runtime, getattr(splits, split), events.task(task_label(BASELINE, split), cancel))
                    for split in ("val", "test")}
    timings["baseline"] = _lap(clock)

    checkpoint_path = paths.data_dir() / "training" / name / CHECKPOINT_FILE
    settings = {stage: config.stage_settings(stage) for stage in stages}
    saved = asdict(config)
    checkpoint = (Checkpoint.load(checkpoint_path, saved, world.main) if config.resume
                  else Checkpoint(checkpoint_path, saved, world.main))
    context = RunContext(device, world, events, cancel, checkpoint)
    encoding, pair, results = Encoding(runtime, world, events, cancel), base.pair, {}
    for stage_name in stages:
        clock = time.perf_counter()
        stage = _make_stage(stage_name, config, pair, splits, encoding, device, events, cancel)
        action, record = checkpoint.plan(stage_name, settings[stage_name].epochs)
        if action == "skip":
            load_trained_state(stage.trained, record["state"])
            results[stage_name] = record["result"]
        else:
            results[stage_name] = fit(stage, settings[stage_name], context, record if action == "continue" else None)
        stage.install(pair, encoding)
        timings[f"stage_{stage_name}"] = _lap(clock)
        cancel.check()

    for module in pair.torch_modules():
        module.cpu().eval()
    if config.debug_weights_dir:
        _write_weights_checksum(Path(config.debug_weights_dir), world, pair, results)
    done = _publish(config, name, base, pair, splits, results, baseline, timings, started, events) if world.main else {}
    distributed.barrier(world)
    return done


def _checked(config: TrainConfig) -> tuple[str, list[str]]:
    """(bundle name, stages in run order); refuses what cannot work before any slow step."""
    unknown = [s for s in config.stages if s not in STAGES]
    if unknown or not config.stages:
        raise PicsiftError(f"unknown stage(s) {', '.join(unknown) or '(none given)'}; choose from {','.join(STAGES)}")
    if config.objective not in OBJECTIVES:
        raise PicsiftError(f"unknown objective {config.objective!r}; choose one of {', '.join(OBJECTIVES)}")
    from trainer.stages.mapper import check_kept_shares

    check_kept_shares(config.keep_images, config.keep_texts)
    name = config.bundle_name()
    if name == registry.DEFAULT_BUNDLE:
        raise PicsiftError(f"{name!r} is the built-in model's name; choose another --name")
    if registry.bundle_folder(name).exists() and not (config.replace or config.resume):
        raise PicsiftError(f"a bundle named {name!r} is already installed; pass --replace or choose another --name")
    return name, [s for s in STAGES if s in config.stages]


def _make_stage(name: str, config: TrainConfig, pair, splits, encoding, device, events, cancel) -> Stage:
    from trainer.stages.mapper import MapperStage
    from trainer.stages.semantic import ImageStage, TextStage

    if name == "text":
        return TextStage(pair, splits, config.text_blocks, config.stage_temperature, device)
    if name == "image":
        return ImageStage(pair, splits, config.image_blocks, config.stage_temperature, device, events, cancel)
    return MapperStage(pair, splits, encoding, config.objective, config.temperature, config.mix_weight,
                       config.mapper_dim, config.seed, device, config.keep_images, config.keep_texts)


def _publish(config, name, base, pair, splits, results, baseline, timings, started, events) -> dict:
    """Export (parity-gated), test through ONNX, write report and curves into the bundle, install it."""
    staging = Path(tempfile.mkdtemp(prefix=".train-", dir=paths.models_dir()))
    try:
        clock = time.perf_counter()
        folder = export_bundle(pair, staging / name, name, SAMPLE_TEXTS, sample_pixels(pair))
        timings["export"] = _lap(clock)
        clock = time.perf_counter()
        runtime = ModelRuntime(folder, device="cpu")
        tuned = {split: evaluate_bundle(runtime, getattr(splits, split), events.task(task_label(EVALUATE, split)))
                 for split in ("val", "test")}
        timings["evaluate"] = _lap(clock)
        training = {"stages": list(results), "objective": config.objective, "temperature": config.temperature,
                    "keep_images": config.keep_images, "keep_texts": config.keep_texts,
                    "mix_weight": config.mix_weight, "seed": config.seed, "selected_on": "val",
                    "epochs": {s: r["epochs"] for s, r in results.items()},
                    "best_epochs": {s: r["best_epoch"] for s, r in results.items()}}
        metrics = {"split": "test", "baseline": baseline["test"], "fine_tuned": tuned["test"]}
        set_provenance(folder, training_provenance(pair.provenance, base.label, splits.summary(), training, metrics))
        (folder / CARD_FILE).write_text(model_card(read_manifest(folder)), encoding="utf-8")
        timings["total"] = _lap(started)
        report = write_report(folder, {"bundle": name, "config": asdict(config), "data": splits.summary(),
                                       "base": base.label, "stages": results,
                                       "metrics": {"baseline": baseline, "fine_tuned": tuned},
                                       "timings_seconds": timings})
        plot_curves(results, folder / CURVES_FILE)
        installed = registry.install(folder, name=name, replace=True).folder
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    report_path = str(installed / report.name)
    events.done(name, str(installed), report_path, baseline["test"], tuned["test"], round(time.perf_counter() - started, 2))
    return {"bundle": name, "folder": str(installed), "report": report_path, "baseline": baseline["test"],
            "metrics": tuned["test"], "seconds": round(time.perf_counter() - started, 2)}


def _write_weights_checksum(folder: Path, world: distributed.World, pair, results: dict) -> None:
    """sha256 of every exported weight of this process, and its loss curves (the DDP test compares ranks)."""
    digest = hashlib.sha256()
    for module in pair.torch_modules():
        for key, tensor in sorted(module.state_dict().items()):
            digest.update(key.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    folder.mkdir(parents=True, exist_ok=True)
    losses = {s: [row["train_loss"] for row in r["history"]] for s, r in results.items()}
    (folder / f"rank{world.rank}.json").write_text(json.dumps({"rank": world.rank, "world": world.size,
                                                               "sha256": digest.hexdigest(), "losses": losses}))


def _lap(since: float) -> float:
    return round(time.perf_counter() - since, 2)
