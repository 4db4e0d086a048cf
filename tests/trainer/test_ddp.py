"""The training loop under torch's DistributedDataParallel: two CPU processes (gloo) launched by torchrun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from models import registry
from models.bundle import open_bundle
from trainer.data.sources import FASHION_MNIST_DIR, write_fashion_mnist_folders

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.skipif(not (FASHION_MNIST_DIR / "train-labels-idx1-ubyte.gz").is_file(),
                    reason="Fashion-MNIST not installed (Debian package fashion-mnist)")
def test_two_processes_train_in_step_and_only_the_first_publishes(builtin_v1_bundle, isolated_data_dir, tmp_path):
    data = write_fashion_mnist_folders(tmp_path / "clothes", per_class=6)  # 4 train, 1 val, 1 test per class
    weights = tmp_path / "weights"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "trainer", "train", "--data", str(data), "--base", str(builtin_v1_bundle), "--name", "ddp",
               "--stages", "image,mapper", "--epochs", "2", "--batch-size", "4", "--device", "cpu",
               "--progress", "jsonl", "--debug-weights-dir", str(weights)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PICSIFT_DATA_DIR": str(isolated_data_dir)}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]

    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [e["event"] for e in events].count("start") == 1 and events[-1]["event"] == "done"  # rank 0 alone reports
    progress = [e for e in events if e["event"] == "progress"]
    assert {e["steps"] for e in progress} == {5}  # 40 images, batches of 4: 10 batches shared by 2 ranks
    ranks = [json.loads((weights / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["world"] == ranks[1]["world"] == 2
    assert ranks[0]["sha256"] == ranks[1]["sha256"]  # DDP kept the two replicas identical
    assert ranks[0]["losses"] == ranks[1]["losses"] and len(ranks[0]["losses"]["image"]) == 2
    bundle = open_bundle(registry.bundle_folder("ddp"))
    assert bundle.manifest.provenance["training"]["stages"] == ["image", "mapper"]
    assert (bundle.folder / "report.json").is_file() and (bundle.folder / "curves.png").is_file()
