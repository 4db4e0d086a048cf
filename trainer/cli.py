"""The trainer's command line: build the built-in model, convert transformers models, train, evaluate."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback

from models.errors import PicsiftError, run_reporting_errors
from models.manifest import CONVERTED_FAMILIES
from models.trainer_protocol import CANCELLED_EXIT

DEVICES = ("auto", "cpu", "cuda")
OBJECTIVE_NAMES = ("infonce", "triplet", "prototype", "ce", "supcon", "seed")  # trainer.losses.OBJECTIVES
FORMAT_NAMES = ("folders", "csv", "coco", "karpathy", "fashion-mnist")  # trainer.data.splits.FORMATS


class UsageError(Exception):
    """A bad command line; raised instead of argparse's exit so --progress jsonl can report it as an event."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(f"{self.prog}: {message}")


def _build_default(args: argparse.Namespace) -> int:
    """Build the built-in bundle, reporting its steps (step events on stdout in jsonl mode, for the app)."""
    from trainer.export.default_model import build_default_bundle

    return _run_steps(args.progress, lambda on_step: build_default_bundle(force=args.force, on_step=on_step),
                      lambda folder: f"built-in model ready: {folder}")


def _run_steps(progress: str, work, done_line) -> int:
    """Run `work(on_step)`, its steps reported as step events (jsonl) or lines on stderr; then `done_line(result)`
    for people (on stderr in jsonl mode), or a failure as one line and exit code 1."""
    from trainer.progress import Events

    events = Events(progress, stream=sys.stdout)
    try:
        with _stdout_for(progress):
            result = work(events.step)
    except Exception as exc:
        return _failed(events, progress, exc)
    print(done_line(result), file=sys.stderr if progress == "jsonl" else sys.stdout)
    return 0


def _stdout_for(progress: str):
    """In jsonl mode stdout carries the contract only: anything else printed goes to stderr."""
    return contextlib.redirect_stdout(sys.stderr) if progress == "jsonl" else contextlib.nullcontext()


def _failed(events, progress: str, exc: Exception) -> int:
    """A failed run as one line and exit code 1: a PicsiftError's message; a bug in jsonl mode an error
    event with the traceback on stderr (the app still gets its event), otherwise raised as it is."""
    if isinstance(exc, PicsiftError):
        events.error(str(exc))
        return 1
    if progress != "jsonl":
        raise exc
    events.error(f"internal error: {type(exc).__name__}: {exc} (details on stderr)")
    traceback.print_exception(exc)
    return 1


def _convert(args: argparse.Namespace) -> int:
    """Convert and install a transformers model, reporting its steps like build-default."""
    from trainer.export.convert import convert_to_bundle

    def work(on_step):
        return convert_to_bundle(args.source, family=args.family, name=args.name, replace=args.replace,
                                 hub_id=args.hub_id, on_step=on_step)

    return _run_steps(args.progress, work, lambda folder: f"installed {folder.name}: {folder}")


def _train(args: argparse.Namespace) -> int:
    """Train; every failure becomes one line (an error event in jsonl mode) and an exit code."""
    from trainer.progress import CancelFlag, Cancelled, Events
    from trainer.train import TrainConfig, train

    main_process = int(os.environ.get("RANK", "0")) == 0
    events = Events(args.progress, stream=sys.stdout, enabled=main_process)
    config = TrainConfig(
        data=args.data, format=args.format, images=args.images, limit_per_class=args.limit_per_class,
        stages=tuple(s.strip() for s in args.stages.split(",") if s.strip()), objective=args.objective,
        temperature=args.temperature, base=args.base, keep_images=args.keep_images, keep_texts=args.keep_texts,
        mix_weight=TrainConfig.mix_weight if args.mix_weight is None else args.mix_weight,
        image_blocks=None if args.unfreeze_all else 2, text_blocks=None if args.unfreeze_all else 2,
        epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed, device=args.device,
        name=args.name or "", replace=args.replace, resume=args.resume, progress=args.progress,
        debug_weights_dir=args.debug_weights_dir)
    try:
        with _stdout_for(args.progress), CancelFlag() as cancel:
            train(config, events, cancel)
    except (Cancelled, KeyboardInterrupt):
        events.log("picsift: cancelled; the checkpoint is kept: run the same command with --resume to continue")
        return CANCELLED_EXIT
    except Exception as exc:
        return _failed(events, args.progress, exc)
    return 0


def _evaluate(args: argparse.Namespace) -> None:
    import json
    from pathlib import Path

    from models import registry
    from models.runtime import ModelRuntime
    from trainer.data.splits import load_splits, load_whole
    from trainer.evaluation.retrieval import evaluate_bundle

    folder = Path(args.bundle) if (Path(args.bundle) / "manifest.json").is_file() else None
    runtime = ModelRuntime(folder or registry.open_installed(args.bundle), device=args.device)
    if args.split == "all":
        dataset = load_whole(args.data, args.format, args.images, args.seed, args.limit_per_class)
    else:
        dataset = getattr(load_splits(args.data, args.format, args.images, args.seed, args.limit_per_class), args.split)
    metrics = evaluate_bundle(runtime, dataset)
    print(json.dumps({"bundle": runtime.manifest.name, "data": args.data, "split": args.split,
                      "images": len(dataset.images), "metrics": metrics}, indent=2))


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True,
                        help="a folder of class folders, a caption .csv (image,caption), a COCO or Karpathy .json, "
                             "or 'fashion-mnist'")
    parser.add_argument("--images", help="folder the caption file's image paths are relative to (default: beside it)")
    parser.add_argument("--format", choices=FORMAT_NAMES, help="detected from --data when omitted")
    parser.add_argument("--limit-per-class", type=int, metavar="N", help="at most N images per class (quick runs)")
    parser.add_argument("--seed", type=int, default=0, help="splits, batch order and initial weights (default 0)")


def _add_train_parser(commands) -> None:
    train = commands.add_parser("train", help="fine-tune on your data; install the result as a bundle")
    _add_data_arguments(train)
    train.add_argument("--stages", default="mapper", help="comma-separated, of text,image,mapper (default: mapper)")
    train.add_argument("--objective", choices=OBJECTIVE_NAMES, default="infonce", help="mapper loss (default infonce)")
    train.add_argument("--epochs", type=int, help="epochs of every stage (default: text 3, image 3, mapper 30)")
    train.add_argument("--batch-size", type=int, help="items per step (default: text 64, image 64, mapper 256)")
    train.add_argument("--lr", type=float, help="peak learning rate (default: text 2e-5, image 3e-4, mapper 1e-3)")
    train.add_argument("--temperature", type=float, help="the objective's temperature (default: the loss's own)")
    train.add_argument("--keep-images", type=float, default=1.0, metavar="SHARE",
                       help="modality imbalance study: only this share of mapper training items keep their image")
    train.add_argument("--keep-texts", type=float, default=1.0, metavar="SHARE",
                       help="likewise for their text (the others train one side only)")
    train.add_argument("--mix-weight", type=float,
                       help="share of the trained space in the search score, the rest the base model's "
                            "(default: trainer.train.MIX_WEIGHT, 0.5)")
    train.add_argument("--unfreeze-all", action="store_true", help="train whole towers, not their last blocks (slow)")
    train.add_argument("--base", help="bundle name or folder, or a CLIP-like model folder or hub id (default: built-in)")
    train.add_argument("--name", help="name of the installed bundle (default: <data>-tuned)")
    train.add_argument("--replace", action="store_true", help="overwrite an installed bundle of that name")
    train.add_argument("--resume", action="store_true", help="continue the run of that name from its checkpoint")
    train.add_argument("--device", choices=DEVICES, default="auto", help="mixed precision on CUDA (default auto)")
    train.add_argument("--progress", choices=("bar", "jsonl"), default="bar",
                       help="bars on stderr, or JSON lines on stdout for programs (default bar)")
    train.add_argument("--debug-weights-dir", help=argparse.SUPPRESS)
    train.set_defaults(run=_train)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m trainer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build-default", help="build the offline built-in model bundle")
    build.add_argument("--force", action="store_true", help="rebuild even if it is installed")
    build.add_argument("--progress", choices=("bar", "jsonl"), default="bar",
                       help="step lines on stderr, or step events as JSON lines on stdout for programs (default bar)")
    build.set_defaults(run=_build_default)
    convert = commands.add_parser("convert", help="export a CLIP/ALIGN/AltCLIP/GroupViT/SigLIP/SigLIP 2 model to a bundle")
    convert.add_argument("source", help="a hub id (needs internet) or a local model folder")
    convert.add_argument("--family", choices=CONVERTED_FAMILIES, help="detected when omitted")
    convert.add_argument("--name", help="bundle name (default: from the source, or from --hub-id)")
    convert.add_argument("--replace", action="store_true", help="overwrite an installed bundle of that name")
    convert.add_argument("--hub-id", metavar="ID",
                         help="the hub id a local SOURCE folder was downloaded from: recorded as the base weights")
    convert.add_argument("--progress", choices=("bar", "jsonl"), default="bar",
                         help="step lines on stderr, or step events as JSON lines on stdout for programs (default bar)")
    convert.set_defaults(run=_convert)
    _add_train_parser(commands)
    evaluate = commands.add_parser("evaluate", help="retrieval metrics of a bundle on data, through its ONNX graphs")
    evaluate.add_argument("--bundle", required=True, help="installed bundle name, or a bundle folder")
    _add_data_arguments(evaluate)
    evaluate.add_argument("--split", choices=("test", "val", "train", "all"), default="test",
                          help="the split training used (same --seed and --limit-per-class), or all of the data")
    evaluate.add_argument("--device", choices=DEVICES, default="auto")
    evaluate.set_defaults(run=_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        return _usage_error(str(exc), argv)
    return run_reporting_errors(lambda: args.run(args))


def _usage_error(message: str, argv: list[str]) -> int:
    """argparse's complaint: an error event when --progress jsonl was asked for, else usage on stderr (exit 2)."""
    if "--progress=jsonl" in argv or any(a == "--progress" and b == "jsonl" for a, b in zip(argv, argv[1:])):
        from trainer.progress import Events

        Events("jsonl", stream=sys.stdout).error(message)
        return 1
    print(message, file=sys.stderr)
    return 2
