"""The CLIP4CMR questions, answered on Fashion-MNIST as labelled folders (the trainer issue's study).

    python tests/benchmarks/study.py [--per-class 375] [--builtin BUNDLE] [--parts objectives,stages,imbalance,sensitivity]
                                     [--device auto|cpu|cuda] [--results PATH] [--markdown docs/study.md]

Every run is a real `python -m trainer train ... --progress jsonl` process from the built-in model
(EfficientNet-Lite0 + MiniLM and its zero-shot bridge), on --per-class images of each class of
the official Fashion-MNIST TRAIN set written as labelled folders; the trainer's seeded 80/10/10
split per class gives train/val/test. Each run selects its best epoch on val; the figures are
text->image and image->text mAP@all (class level) on the held-out test part, through the
exported ONNX bundle, against the zero-shot built-in model on the same test images.

  objectives   (1) which objective trains the best mapper: the six objectives, mapper only, at the
               shipped mix a = 0.5 (trained space beside the zero-shot one) and a = 1 (trained alone)
  stages       (2) mapper only vs image stage + mapper vs text + image + mapper, with wall time
  imbalance    (3) the six objectives when only 30% of the training items keep their image
               (--keep-images 0.3), or their text (--keep-texts 0.3); a = 1
  sensitivity  (4) temperature (infonce, prototype) and learning rate (infonce), mapper only, a = 1

Writes --results (default tests/benchmarks/results/study.json, or study_cuda.json with
--device cuda) and regenerates --markdown from every results file present.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from fine_tune import trainer, with_builtin  # noqa: E402  (the same `python -m trainer` runner)

from trainer.data.sources import write_fashion_mnist_folders  # noqa: E402

RESULTS_DIR = Path(__file__).parent / "results"
MARKDOWN = ROOT / "docs" / "study.md"
PARTS = ("objectives", "stages", "imbalance", "sensitivity")
OBJECTIVES = ("infonce", "triplet", "prototype", "ce", "supcon", "seed")
STAGE_SETS = ("mapper", "text,mapper", "image,mapper", "text,image,mapper")
TEMPERATURES = {"infonce": (0.01, 0.03, 0.07, 0.2, 0.5), "prototype": (0.1, 0.3, 1.0, 3.0)}
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
T2I, I2T = "text_to_image_mAP@all", "image_to_text_mAP@all"


def record(done: dict, seconds: float) -> dict:
    report = json.loads(Path(done["report"]).read_text())
    return {"t2i": round(done["metrics"][T2I], 4), "i2t": round(done["metrics"][I2T], 4),
            "val_t2i": round(report["metrics"]["fine_tuned"]["val"][T2I], 4),
            "wall_seconds": round(seconds, 1),
            "stage_seconds": {k[6:]: v for k, v in report["timings_seconds"].items() if k.startswith("stage_")},
            "best_epochs": {s: r["best_epoch"] for s, r in report["stages"].items()},
            "load_average_1min": round(os.getloadavg()[0], 2)}


def run_parts(parts: list[str], data: Path, data_dir: Path, device: str, stage_sets=STAGE_SETS) -> dict:
    base = ["--data", str(data), "--replace", "--name", "study", "--device", device]
    runs: dict = {}

    def run(key: str, *extra: str) -> None:
        done, seconds = trainer(["train", *base, *extra], data_dir)
        runs[key] = record(done, seconds)
        runs.setdefault("zero_shot", {"t2i": round(done["baseline"][T2I], 4), "i2t": round(done["baseline"][I2T], 4)})
        print(f"{key:40s} t2i {runs[key]['t2i']:.3f}  i2t {runs[key]['i2t']:.3f}  {runs[key]['wall_seconds']:7.1f} s",
              flush=True)

    run("warm-up (features cached)")  # fills the feature cache, so every later mapper run is a cached one
    if "objectives" in parts:
        for weight in ("0.5", "1.0"):
            for objective in OBJECTIVES:
                run(f"objective={objective} a={weight}", "--objective", objective, "--mix-weight", weight)
    if "stages" in parts:
        for stages in stage_sets:
            run(f"stages={stages}", "--stages", stages)
    if "imbalance" in parts:
        for side in ("images", "texts"):
            for objective in OBJECTIVES:
                run(f"keep_{side}=0.3 objective={objective}", "--objective", objective, "--mix-weight", "1.0",
                    f"--keep-{side}", "0.3")
    if "sensitivity" in parts:
        for objective, temperatures in TEMPERATURES.items():
            for temperature in temperatures:
                run(f"objective={objective} temperature={temperature}", "--objective", objective, "--mix-weight",
                    "1.0", "--temperature", str(temperature))
        for lr in LEARNING_RATES:
            run(f"objective=infonce lr={lr}", "--mix-weight", "1.0", "--lr", str(lr))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-class", type=int, default=375, help="images per class written (default 375)")
    parser.add_argument("--data", type=Path, help="labelled folders already written (default: write them)")
    parser.add_argument("--builtin", help="an up-to-date built-in bundle folder (default: build one)")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {','.join(PARTS)}")
    parser.add_argument("--stage-sets", default=";".join(STAGE_SETS),
                        help="the stages part's runs, separated by ';' (default: all four)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu")
    parser.add_argument("--results", type=Path, help="results file (default: results/study[_cuda].json)")
    parser.add_argument("--markdown", type=Path, default=MARKDOWN, help="the table to regenerate (default docs/study.md)")
    args = parser.parse_args()
    parts = [p for p in args.parts.split(",") if p]
    results_path = args.results or RESULTS_DIR / ("study_cuda.json" if args.device == "cuda" else "study.json")
    work = Path(tempfile.mkdtemp(prefix="picsift-study-"))
    data_dir, data = work / "data-dir", args.data or work / "clothes"
    if not args.data:
        write_fashion_mnist_folders(data, args.per_class, split="train", seed=0)
    with_builtin(data_dir, args.builtin)
    started = time.perf_counter()
    runs = run_parts(parts, data, data_dir, args.device, [s for s in args.stage_sets.split(";") if s])
    previous = json.loads(results_path.read_text()) if results_path.is_file() else {}
    results = {"data": f"Fashion-MNIST train, {args.per_class} per class as labelled folders; seeded 80/10/10 split "
                       "per class, figures on the held-out test part",
               "machine": {"cpus": os.cpu_count(), "device": args.device, "platform": platform.platform(),
                           "gpu": _gpu_name() if args.device != "cpu" else None},
               "seconds": round(time.perf_counter() - started, 1),
               "runs": {**previous.get("runs", {}), **runs}}
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text(json.dumps(results, indent=2) + "\n")
    write_markdown(args.markdown)
    shutil.rmtree(work, ignore_errors=True)


def _gpu_name() -> str | None:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


# --- the table in docs/ -----------------------------------------------------------------------------

def write_markdown(path: Path) -> None:
    cpu = _load(RESULTS_DIR / "study.json")
    cuda = _load(RESULTS_DIR / "study_cuda.json")
    if not cpu:
        return
    runs, zero = cpu["runs"], cpu["runs"]["zero_shot"]
    lines = [
        "# Fine-tuning study: the CLIP4CMR questions on our data",
        "",
        "Generated by `python tests/benchmarks/study.py` (CPU) and `python tests/benchmarks/study.py --device cuda "
        "--parts stages` (GPU); the raw figures are in `tests/benchmarks/results/study.json` and `study_cuda.json`.",
        "",
        f"**Data.** {cpu['data']}. Every row is a real `picsift train` run from the built-in model "
        "(EfficientNet-Lite0 + all-MiniLM-L6-v2 with its zero-shot bridge), its best epoch chosen on val, "
        "scored through the exported ONNX bundle. mAP@all is class-level (every test image of the query's class is "
        "relevant); text->image queries are the bare label texts (\"Trouser\"), image->text ranks the ten labels "
        "for each test image.",
        "",
        f"**Baseline**: the zero-shot built-in model on the same test images: text->image **{zero['t2i']:.3f}**, "
        f"image->text **{zero['i2t']:.3f}**.",
        "",
        f"**Machine**: {cpu['machine']['cpus']} CPU cores ({cpu['machine']['platform']})"
        + (f"; GPU rows: {cuda['machine']['gpu']} with {cuda['machine']['cpus']} CPU cores, bf16 autocast." if cuda
           else "."),
        "",
        "`a` is the mapper's mix weight: the exported embedding is "
        "`normalize([sqrt(a) * trained(x), sqrt(1 - a) * zero_shot(x)])`, so a = 0.5 (what the app ships) keeps "
        "the zero-shot space beside the trained one for general searches, and a = 1 is the trained space alone "
        "(the purest comparison of objectives).",
        "",
        "## 1. Which objective trains the best mapper (mapper only, features cached)",
        "",
        "| objective | t2i a=0.5 | i2t a=0.5 | t2i a=1 | i2t a=1 | wall s (a=1) |",
        "|---|---|---|---|---|---|",
    ]
    for objective in OBJECTIVES:
        half, one = runs.get(f"objective={objective} a=0.5"), runs.get(f"objective={objective} a=1.0")
        if half and one:
            lines.append(f"| {objective} | {half['t2i']:.3f} | {half['i2t']:.3f} | {one['t2i']:.3f} | {one['i2t']:.3f} | "
                         f"{one['wall_seconds']:.0f} |")
    lines += ["", "## 2. Which stages to train", "",
              "| stages | t2i | i2t | wall s, CPU | of which stages, CPU | "
              + ("wall s, GPU | of which stages, GPU | t2i, GPU |" if cuda else ""),
              "|---|---|---|---|---|" + ("---|---|---|" if cuda else "")]
    for stages in STAGE_SETS:
        row = runs.get(f"stages={stages}")
        if not row:
            continue
        line = (f"| {stages} | {row['t2i']:.3f} | {row['i2t']:.3f} | {row['wall_seconds']:.0f} | "
                f"{_stage_times(row)} |")
        gpu = cuda["runs"].get(f"stages={stages}") if cuda else None
        if cuda:
            line += f" {gpu['wall_seconds']:.0f} | {_stage_times(gpu)} | {gpu['t2i']:.3f} |" if gpu else " | | |"
        lines.append(line)
    lines += ["", "## 3. Modality imbalance: only 30% of the training items keep one side (a = 1)", "",
              "| objective | balanced t2i | 30% images: t2i | i2t | 30% texts: t2i | i2t |", "|---|---|---|---|---|---|"]
    for objective in OBJECTIVES:
        full, images, texts = (runs.get(k) for k in (f"objective={objective} a=1.0", f"keep_images=0.3 objective={objective}",
                                                     f"keep_texts=0.3 objective={objective}"))
        if full and images and texts:
            lines.append(f"| {objective} | {full['t2i']:.3f} | {images['t2i']:.3f} | {images['i2t']:.3f} | "
                         f"{texts['t2i']:.3f} | {texts['i2t']:.3f} |")
    lines += ["", "## 4. Sensitivity (mapper only, a = 1)", "", "| objective | setting | t2i | i2t |", "|---|---|---|---|"]
    for objective, temperatures in TEMPERATURES.items():
        for temperature in temperatures:
            row = runs.get(f"objective={objective} temperature={temperature}")
            if row:
                lines.append(f"| {objective} | temperature {temperature} | {row['t2i']:.3f} | {row['i2t']:.3f} |")
    for lr in LEARNING_RATES:
        row = runs.get(f"objective=infonce lr={lr}")
        if row:
            lines.append(f"| infonce | lr {lr:g} | {row['t2i']:.3f} | {row['i2t']:.3f} |")
    lines = _without_empty_tables(lines)
    findings = ROOT / "docs" / "study_findings.md"
    if findings.is_file():
        lines += ["", findings.read_text().strip()]
    path.write_text("\n".join(lines) + "\n")


def _stage_times(row: dict) -> str:
    return ", ".join(f"{k} {v:.1f}" if v < 10 else f"{k} {v:.0f}" for k, v in row["stage_seconds"].items())


def _without_empty_tables(lines: list[str]) -> list[str]:
    """Drop each section (heading to next heading) whose table has no rows."""
    out, section = [], []
    for line in lines + ["## end"]:
        if line.startswith("## "):
            if not section[:1] or not section[0].startswith("## ") or any(row.startswith("| ") and not row.startswith("|---") for row in section[3:]):
                out += section
            section = []
        section.append(line)
    return out


def _load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


if __name__ == "__main__":
    main()
