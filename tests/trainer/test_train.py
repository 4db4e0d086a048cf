"""Fine-tuning end to end on a tiny Fashion-MNIST folder set: bundle, report, progress contract, resume, cancel, errors."""

from __future__ import annotations

import copy
import json
import math
import zipfile

import numpy as np
import pytest

from desktop.cli import main as picsift
from models import paths, registry
from models.bundle import open_bundle
from trainer.cli import OBJECTIVE_NAMES, main
from trainer.data.sampling import LabelBatchSampler
from trainer.data.sources import FASHION_MNIST_DIR, write_fashion_mnist_folders
from trainer.evaluation.retrieval import labelled_metrics
from trainer.losses import OBJECTIVES
from trainer.progress import CancelFlag, Cancelled, Events
from trainer.stages.loop import lr_at

pytestmark = pytest.mark.skipif(not (FASHION_MNIST_DIR / "train-labels-idx1-ubyte.gz").is_file(),
                                reason="Fashion-MNIST not installed (Debian package fashion-mnist)")

TINY = ["--epochs", "12", "--batch-size", "16", "--seed", "0"]  # 80 training images: 5 steps an epoch


@pytest.fixture(scope="module")
def tiny_folders(tmp_path_factory):
    """10 images of each Fashion-MNIST class as labelled folders: 8 train, 1 val, 1 test per class."""
    return write_fashion_mnist_folders(tmp_path_factory.mktemp("data") / "clothes", per_class=10)


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("feature-cache")


@pytest.fixture(scope="module")
def loaded_base(builtin_v1_bundle):
    from trainer.base import load_base

    return load_base(str(builtin_v1_bundle))


@pytest.fixture
def base(builtin_v1_bundle, loaded_base, shared_cache, monkeypatch):
    """The built-in bundle as --base, its torch towers loaded once (each run trains a copy) and its
    encoder features cached once for the whole module."""
    import trainer.train

    (paths.data_dir() / "cache").symlink_to(shared_cache, target_is_directory=True)
    monkeypatch.setattr(trainer.train, "load_base", lambda source, log_line=None: copy.deepcopy(loaded_base))
    return str(builtin_v1_bundle)


def _train(capsys, *args) -> tuple[int, list[dict]]:
    code = main(["train", *args, "--progress", "jsonl"])
    lines = capsys.readouterr().out.splitlines()
    return code, [json.loads(line) for line in lines]


def test_training_installs_a_bundle_that_beats_zero_shot_with_its_report(capsys, base, tiny_folders, tmp_path):
    code, events = _train(capsys, "--data", str(tiny_folders), "--base", base, "--name", "clothes", *TINY)
    assert code == 0
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and set(kinds) == {"start", "task", "progress", "metrics", "done"}
    assert kinds.index("metrics") > kinds.index("progress")  # an epoch's steps come before its validation
    tasks = [e for e in events if e["event"] == "task"]
    assert all(0 <= e["done"] <= e["total"] for e in tasks)
    assert {e["task"] for e in tasks} >= {"baseline, test", "evaluate, test"}
    for name in {e["task"] for e in tasks}:  # every task reports its end, so a bar never stops short
        last = [e for e in tasks if e["task"] == name][-1]
        assert last["done"] == last["total"], last
    start, done = events[0], events[-1]
    assert (start["stages"], start["train_size"], start["val_size"], start["test_size"]) == (["mapper"], 80, 10, 10)
    assert "Ankle boot" in start["classes"]
    progress = [e for e in events if e["event"] == "progress"]
    assert {e["epochs"] for e in progress} == {12} and all(1 <= e["step"] <= e["steps"] == 5 for e in progress)
    assert all(e["split"] == "val" for e in events if e["event"] == "metrics")
    for metrics in (done["baseline"], done["metrics"]):
        for direction in ("text_to_image", "image_to_text"):
            for key in ("mAP@all", "mAP@100", "R@1", "R@5", "R@10", "mean_rank", "median_rank"):
                assert math.isfinite(metrics[f"{direction}_{key}"])
    assert done["metrics"]["text_to_image_mAP@all"] > done["baseline"]["text_to_image_mAP@all"]

    assert [b.name for b in registry.list_bundles()] == ["clothes"]
    folder = registry.bundle_folder("clothes")
    assert done["folder"] == str(folder) and (folder / "curves.png").stat().st_size > 1000
    report = json.loads((folder / "report.json").read_text())
    assert report["stages"]["mapper"]["best_epoch"] in range(1, 13) and len(report["stages"]["mapper"]["history"]) == 12
    assert report["metrics"]["fine_tuned"]["test"] == done["metrics"]
    assert {"load", "baseline", "stage_mapper", "export", "total"} <= set(report["timings_seconds"])
    provenance = open_bundle(folder).manifest.provenance
    assert provenance["training"]["objective"] == "infonce" and provenance["training"]["stages"] == ["mapper"]
    assert provenance["metrics"]["fine_tuned"] == done["metrics"] and provenance["training_data"]["train_size"] == 80
    assert "EfficientNet-Lite0" in provenance["base_weights"]["image"]

    assert main(["evaluate", "--bundle", "clothes", "--data", str(tiny_folders)]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["metrics"]["text_to_image_mAP@all"] == pytest.approx(done["metrics"]["text_to_image_mAP@all"])
    assert picsift(["export", "clothes", str(tmp_path / "clothes.zip")]) == 0
    assert {"clothes/report.json", "clothes/curves.png", "clothes/MODEL_CARD.md"} <= set(
        zipfile.ZipFile(tmp_path / "clothes.zip").namelist())
    card = (folder / "MODEL_CARD.md").read_text()
    assert "Ankle boot" in card and "| text to image mAP@all |" in card


def test_resume_continues_with_the_next_epoch_instead_of_starting_over(capsys, base, tiny_folders):
    common = ["--data", str(tiny_folders), "--base", base, "--name", "resumed", "--batch-size", "16"]
    assert _train(capsys, *common, "--epochs", "1")[0] == 0
    first = json.loads((registry.bundle_folder("resumed") / "report.json").read_text())["stages"]["mapper"]["history"]
    code, events = _train(capsys, *common, "--epochs", "2", "--resume")
    assert code == 0
    assert {e["epoch"] for e in events if e["event"] in ("progress", "metrics")} == {2}
    history = json.loads((registry.bundle_folder("resumed") / "report.json").read_text())["stages"]["mapper"]["history"]
    assert [row["epoch"] for row in history] == [1, 2] and history[0] == first[0]
    assert _checkpoint_without_pickled_code("resumed")["finished"]["mapper"]["resume"]["epoch"] == 2


def _checkpoint_without_pickled_code(name: str) -> dict:
    """The run's checkpoint as torch's safe loader reads it: tensors and plain containers, no classes."""
    import torch

    from trainer.stages.checkpoint import CHECKPOINT_FILE

    return torch.load(paths.data_dir() / "training" / name / CHECKPOINT_FILE, map_location="cpu", weights_only=True)


class StopAt(Events):
    """Asks the run to stop (as SIGINT would) once it reaches a given step."""

    def __init__(self, cancel: CancelFlag, epoch: int, step: int):
        super().__init__("jsonl", enabled=False)
        self.cancel, self.at = cancel, (epoch, step)

    def progress(self, stage, epoch, epochs, step, steps, loss):
        if (epoch, step) == self.at:
            self.cancel.requested = True


def test_a_run_stopped_mid_epoch_resumes_at_that_step_and_ends_with_the_same_weights(base, tiny_folders, tmp_path):
    from trainer.train import TrainConfig, train

    def config(name, **changes):
        return TrainConfig(data=str(tiny_folders), base=base, name=name, epochs=3, batch_size=16,
                           debug_weights_dir=str(tmp_path / name), **changes)

    train(config("straight"), Events(enabled=False), CancelFlag())
    cancel = CancelFlag()
    with pytest.raises(Cancelled):
        train(config("stopped"), StopAt(cancel, epoch=2, step=3), cancel)
    assert not registry.bundle_folder("stopped").exists()  # nothing installed, the checkpoint kept
    assert _checkpoint_without_pickled_code("stopped")["current"]["step"] == 3
    train(config("stopped", resume=True), Events(enabled=False), CancelFlag())
    straight, resumed = (json.loads((tmp_path / name / "rank0.json").read_text()) for name in ("straight", "stopped"))
    assert resumed["sha256"] == straight["sha256"]
    assert resumed["losses"]["mapper"] == pytest.approx(straight["losses"]["mapper"])


def test_the_semantic_stages_fine_tune_both_towers_and_chain_into_the_mapper(capsys, base, tiny_folders):
    code, events = _train(capsys, "--data", str(tiny_folders), "--base", base, "--name", "staged",
                          "--stages", "mapper,image,text", "--epochs", "1", "--batch-size", "16")
    assert code == 0 and events[0]["stages"] == ["text", "image", "mapper"]
    assert [e["stage"] for e in events if e["event"] == "metrics"] == ["text", "image", "mapper"]
    tuned, builtin = open_bundle(registry.bundle_folder("staged")).manifest, open_bundle(base).manifest
    assert tuned.files["image_encoder.onnx"] != builtin.files["image_encoder.onnx"]
    assert tuned.files["text_encoder.onnx"] != builtin.files["text_encoder.onnx"]
    assert tuned.provenance["training"]["stages"] == ["text", "image", "mapper"]


def test_caption_data_trains_at_the_instance_level(capsys, base, tiny_folders):
    rows = ["image,caption"]
    for path in sorted(tiny_folders.rglob("*.png")):
        name = path.parent.name.lower()
        rows += [f"{path.relative_to(tiny_folders)},a photo of a {name}", f"{path.relative_to(tiny_folders)},{name}, product shot"]
    (tiny_folders / "captions.csv").write_text("\n".join(rows) + "\n")
    code, events = _train(capsys, "--data", str(tiny_folders / "captions.csv"), "--base", base, "--name", "captioned",
                          "--epochs", "2", "--batch-size", "32")
    assert code == 0 and events[0]["classes"] is None and events[0]["train_size"] == 80
    metrics = events[-1]["metrics"]
    assert {"text_to_image_R@1", "image_to_text_R@10", "text_to_image_median_rank"} <= set(metrics)
    assert json.loads((registry.bundle_folder("captioned") / "report.json").read_text())["stages"]["mapper"][
        "primary"] == "text_to_image_R@5"


def test_a_transformers_model_trains_from_its_own_projections(capsys, tiny_folders, tmp_path):
    from tiny_models import make_tiny

    source = make_tiny("clip", tmp_path)
    code, events = _train(capsys, "--data", str(tiny_folders), "--base", str(source), "--name", "tiny-clip-tuned",
                          "--epochs", "2", "--batch-size", "32")
    assert code == 0 and events[-1]["event"] == "done"
    manifest = open_bundle(registry.bundle_folder("tiny-clip-tuned")).manifest
    assert manifest.family == "clip" and manifest.embedding_dim == 2 * 16  # trained copy + frozen original projection
    assert manifest.provenance["training"]["base"] == str(source)


def test_modality_imbalance_trains_class_wise_objectives_on_one_sided_items(capsys, base, tiny_folders):
    code, events = _train(capsys, "--data", str(tiny_folders), "--base", base, "--name", "few-images",
                          "--objective", "prototype", "--keep-images", "0.3", *TINY)
    assert code == 0 and events[-1]["metrics"]["text_to_image_mAP@all"] > events[-1]["baseline"]["text_to_image_mAP@all"]
    training = open_bundle(registry.bundle_folder("few-images")).manifest.provenance["training"]
    assert (training["keep_images"], training["keep_texts"]) == (0.3, 1.0)


def test_kept_sides_drop_disjoint_seeded_shares():
    from trainer.stages.mapper import kept_sides

    has_image, has_text = kept_sides(100, 0.3, 0.8, seed=0)
    assert (~has_image).sum() == 70 and (~has_text).sum() == 20 and (has_image | has_text).all()
    assert (kept_sides(100, 0.3, 0.8, seed=0)[0] == has_image).all() and kept_sides(100, 1.0, 1.0, seed=0) is None


@pytest.mark.parametrize("problem", ["missing folder", "one class", "unknown stage", "taken name", "keep nothing"])
def test_bad_input_gives_one_error_event_and_exit_code_1(capsys, tmp_path, problem):
    data = tmp_path / "photos"
    args = ["--data", str(data)]
    if problem == "one class":
        write_fashion_mnist_folders(tmp_path / "all", per_class=3)
        data.mkdir()
        (tmp_path / "all" / "Bag").rename(data / "Bag")
    if problem == "unknown stage":
        args += ["--stages", "mapper,vision"]
    if problem == "taken name":
        (registry.bundle_folder("mine") / "manifest.json").parent.mkdir(parents=True)
        args += ["--name", "mine"]
    if problem == "keep nothing":
        write_fashion_mnist_folders(data, per_class=3)
        args += ["--keep-images", "0.5", "--keep-texts", "0.4"]
    code, events = _train(capsys, *args)
    assert code == 1 and [e["event"] for e in events] == ["error"]
    message = events[0]["message"]
    assert "\n" not in message and "Traceback" not in capsys.readouterr().err
    expected = {"missing folder": "no such file or folder", "one class": "at least two are needed",
                "unknown stage": "unknown stage(s) vision", "taken name": "--replace",
                "keep nothing": "drop both sides"}[problem]
    assert expected in message


def test_lr_warms_up_linearly_then_decays_by_cosine_to_its_floor():
    peak, total, warmup = 1e-3, 100, 10
    assert lr_at(0, total, peak, warmup, 0.1) == pytest.approx(peak / 10)
    assert lr_at(9, total, peak, warmup, 0.1) == pytest.approx(peak)
    assert lr_at(55, total, peak, warmup, 0.1) == pytest.approx(peak * 0.55)  # half way down the cosine
    assert lr_at(100, total, peak, warmup, 0.1) == pytest.approx(peak * 0.1)
    assert lr_at(0, total, peak, 0, 0.0) == pytest.approx(peak)


def test_batches_hold_several_items_of_each_label_and_ranks_split_them():
    labels = np.repeat(np.arange(10), 30)
    whole = LabelBatchSampler(labels, batch_size=32, per_label=4, seed=3)
    batches = list(whole)
    assert len(batches) == len(whole) == 9 and sorted(np.concatenate(batches).tolist()) == list(range(300))
    assert all(np.bincount(labels[b]).max() >= 4 for b in batches)
    shards = [list(LabelBatchSampler(labels, 32, 4, seed=3, rank=r, world=2)) for r in (0, 1)]
    assert len(shards[0]) == len(shards[1]) == 4
    seen = [tuple(b) for shard in shards for b in shard]
    assert len(set(seen)) == 8 and set(seen) <= {tuple(b) for b in batches}
    again = LabelBatchSampler(labels, 32, 4, seed=3)
    assert all((a == b).all() for a, b in zip(batches, again))
    again.set_epoch(2)
    assert not all(len(a) == len(b) and (a == b).all() for a, b in zip(batches, again))


def test_labelled_metrics_of_one_hot_embeddings_are_worked_out_by_hand():
    queries = np.eye(2)  # class 0, class 1
    images = np.array([[1.0, 0.0], [0.6, 0.8], [0.8, 0.6]])  # class 0, 1, 1: image 2 looks like class 0
    metrics = labelled_metrics(queries, images, np.array([0, 1, 1]))
    # class 0 ranks images 0, 2, 1: AP 1; class 1 ranks 1, 2, 0: AP 1. Image 2 asks: class 0 first -> AP 1/2.
    assert metrics["text_to_image_mAP@all"] == pytest.approx(1.0)
    assert metrics["image_to_text_mAP@all"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert metrics["image_to_text_R@1"] == pytest.approx(2 / 3)
    assert metrics["image_to_text_mean_rank"] == pytest.approx(4 / 3)
    assert metrics["image_to_text_median_rank"] == 1.0


def test_jsonl_events_are_rate_limited_and_always_valid_json(capsys):
    events = Events("jsonl")
    for step in range(1, 101):
        events.progress("mapper", 1, 1, step, 100, float("nan") if step == 100 else 0.5)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert 1 <= len(lines) < 10 and lines[-1]["step"] == 100 and lines[-1]["loss"] is None

    tick = events.task("image features, train")
    for done in range(0, 1001, 10):
        tick(done, 1000)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert 1 <= len(lines) < 10 and lines[-1] == {"event": "task", "task": "image features, train", "done": 1000, "total": 1000}


def test_the_command_line_offers_every_objective():
    assert set(OBJECTIVE_NAMES) == set(OBJECTIVES)


def test_picsift_forwards_train_arguments_to_the_trainer_untouched(monkeypatch, tmp_path):
    from toy_bundle import export_toy_bundle

    from desktop import cli
    from desktop.cli import train as cli_train

    forwarded = []
    monkeypatch.setattr(cli_train, "run_trainer", forwarded.append)
    registry.install(export_toy_bundle(tmp_path / "toy", name="toy"))
    assert cli.main(["train", "--data", "x", "--stages", "image,mapper", "--help"]) == 0
    assert cli.main(["export", "toy", str(tmp_path / "alias.zip")]) == 0  # in this process, not the trainer's
    assert forwarded == [["train", "--data", "x", "--stages", "image,mapper", "--help"]]


def test_the_trainer_has_no_export_command_of_its_own(capsys):
    assert main(["export", "clothes", "out.zip"]) == 2  # `picsift export` (the same as `picsift model export`) does it
    assert "invalid choice: 'export'" in capsys.readouterr().err
