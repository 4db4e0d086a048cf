"""What a run leaves beside its bundle: report.json (config, curves, metrics, timings), curves.png, and provenance."""

from __future__ import annotations

import datetime as _dt
import json
import logging
from dataclasses import replace
from pathlib import Path

from models.atomic import write_text_atomic
from models.manifest import read_manifest

log = logging.getLogger(__name__)

REPORT_VERSION = 1
REPORT_FILE = "report.json"
CURVES_FILE = "curves.png"


def write_report(folder: Path, report: dict) -> Path:
    path = Path(folder) / REPORT_FILE
    body = {"version": REPORT_VERSION, "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            **report}
    write_text_atomic(path, json.dumps(body, indent=2, default=str) + "\n")
    return path


def plot_curves(stages: dict[str, dict], path: Path) -> Path | None:
    """One panel per stage: mean training loss and the validation metric it selects on, per epoch."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only; never a window
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed; %s not written", path.name)
        return None
    fig, axes = plt.subplots(1, max(1, len(stages)), figsize=(4.5 * max(1, len(stages)), 3.4), squeeze=False)
    for axis, (stage, result) in zip(axes[0], stages.items()):
        epochs = [row["epoch"] for row in result["history"]]
        axis.plot(epochs, [row["train_loss"] for row in result["history"]], "o-", color="tab:blue", label="train loss")
        axis.set_xlabel("epoch")
        axis.set_ylabel("train loss", color="tab:blue")
        axis.set_title(f"{stage} stage (best epoch {result['best_epoch']})")
        other = axis.twinx()
        other.plot(epochs, [row["val"][result["primary"]] for row in result["history"]], "s-", color="tab:orange")
        other.set_ylabel(f"val {result['primary']}", color="tab:orange")
        if result["best_epoch"] is not None:
            other.axvline(result["best_epoch"], color="grey", linestyle=":", linewidth=1)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def training_provenance(base_provenance: dict, base_label: str, data: dict, training: dict, metrics: dict) -> dict:
    """The manifest provenance of a fine-tuned bundle: base weights, data, how it was trained, test metrics."""
    kept = {k: v for k, v in base_provenance.items() if k not in ("training_data", "export_parity", "metrics")}
    return {**kept, "training_data": data, "training": {"base": base_label, **training}, "metrics": metrics}


def set_provenance(folder: Path, provenance: dict) -> None:
    """Rewrite the bundle's manifest with `provenance` merged in (the manifest is not among the hashed files)."""
    manifest = read_manifest(folder)
    replace(manifest, provenance={**manifest.provenance, **provenance}).save(folder)
