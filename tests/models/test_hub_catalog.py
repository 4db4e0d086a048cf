"""The curated hub list: it loads and is checked, its estimates are worked out by hand, the disk check refuses early."""

from __future__ import annotations

import copy
import json
import re
import shutil
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

from models import hub_catalog, registry
from models.errors import DiskFullError, PicsiftError
from models.hub_catalog import DiskNeed, Machine

REQUIRED = {"openai/clip-vit-base-patch32", "openai/clip-vit-base-patch16", "openai/clip-vit-large-patch14",
            "google/siglip-base-patch16-224", "google/siglip-so400m-patch14-384", "google/siglip2-base-patch16-224",
            "BAAI/AltCLIP", "kakaobrain/align-base", "nvidia/groupvit-gcc-yfcc"}
README = Path(__file__).resolve().parents[2] / "README.md"


def _write_catalog(tmp_path: Path, edit) -> Path:
    data = json.loads(hub_catalog.CATALOG_FILE.read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / "hub_models.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _model(**changes) -> hub_catalog.HubModel:
    import dataclasses

    return dataclasses.replace(hub_catalog.find("openai/clip-vit-base-patch32"), **changes)


def test_the_shipped_list_loads_with_every_model_the_issue_names():
    models = hub_catalog.hub_models()
    assert {m.hub_id for m in models} == REQUIRED
    assert hub_catalog.find("google/siglip2-base-patch16-224").family == "siglip"  # its model_type
    assert hub_catalog.find("google/siglip2-base-patch16-224").multilingual
    assert not hub_catalog.find("openai/clip-vit-base-patch32").multilingual


def test_one_model_is_recommended_for_a_cpu_laptop_and_one_for_a_gpu():
    marked = {marker: [m.hub_id for m in hub_catalog.hub_models() if marker in m.recommended] for marker in ("cpu", "gpu")}
    assert marked == {"cpu": ["openai/clip-vit-base-patch32"], "gpu": ["google/siglip-so400m-patch14-384"]}


def test_every_published_figure_carries_its_citation():
    for model in hub_catalog.hub_models():
        assert model.published and all(len(figure.source) > 20 for figure in model.published), model.hub_id


def test_vit_b32_compute_is_method_md_figure_and_the_layer_formula():
    model = hub_catalog.find("openai/clip-vit-base-patch32")
    # 49 patches + CLS = 50 tokens, width 768, MLP 3072, 12 layers; a multiply-add is 2 FLOPs
    layer = 4 * 50 * 768**2 + 2 * 50 * 768 * 3072 + 2 * 50**2 * 768
    by_hand = 2 * (12 * layer + 49 * 3 * 32 * 32 * 768) / 1e9
    assert by_hand == pytest.approx(8.8, abs=0.05) and model.gflops_image == 8.8
    assert model.gflops_text == pytest.approx(6.0)  # 77 tokens x 512, 12 layers (METHOD.md: ~6)


def test_download_sizes_are_about_the_float32_weights():
    for model in hub_catalog.hub_models():
        assert 0.98 < model.download_bytes / (4 * model.parameters) < 1.05, model.hub_id


@pytest.mark.parametrize("field, value, says", [
    ("family", "vit", "family 'vit' is not one of"),
    ("download_bytes", -1, "must all be positive"),
    ("download_bytes", "609 MB", "download_bytes is '609 MB', not int"),
    ("languages", "english", "languages is 'english'"),
    ("hub_id", "clip-vit-base-patch32", "hub_id is not owner/name"),
    ("published", [], "no published figure"),
    ("gflops_source", "", "gflops_source is missing"),
    ("recommended", ["laptop"], "markers other than cpu, gpu"),
])
def test_a_bad_entry_is_refused_naming_the_entry_and_its_field(tmp_path, field, value, says):
    path = _write_catalog(tmp_path, lambda data: data["models"][1].__setitem__(field, value))
    with pytest.raises(ValueError, match=re.escape(says)) as caught:
        hub_catalog.load_catalog(path)
    assert "hub model " in str(caught.value)


def test_a_figure_citing_an_unlisted_source_is_refused(tmp_path):
    path = _write_catalog(tmp_path, lambda data: data["models"][0]["published"][0].__setitem__("source", "a blog"))
    with pytest.raises(ValueError, match="cites 'a blog', which is not in the catalog's sources"):
        hub_catalog.load_catalog(path)


def test_two_cpu_recommendations_or_a_repeated_hub_id_are_refused(tmp_path):
    path = _write_catalog(tmp_path, lambda data: data["models"][1].__setitem__("recommended", ["cpu"]))
    with pytest.raises(ValueError, match="2 models are recommended for 'cpu'"):
        hub_catalog.load_catalog(path)
    path = _write_catalog(tmp_path, lambda data: data["models"].append(copy.deepcopy(data["models"][1])))
    with pytest.raises(ValueError, match="listed twice"):
        hub_catalog.load_catalog(path)


def test_bundle_name_is_what_the_converter_installs_under():
    from trainer.export import convert

    assert convert.bundle_name_for is hub_catalog.bundle_name_for  # one naming rule for both
    assert hub_catalog.bundle_name_for("openai/clip-vit-base-patch32") == "clip-vit-base-patch32"
    assert hub_catalog.bundle_name_for("/models/my clip/") == "my-clip"


def test_disk_needed_is_download_plus_float32_weights_plus_vectors_worked_by_hand():
    model = _model(download_bytes=1000, parameters=100, image_feature_dim=8, embedding_dim=4)
    # per photo: catalog 8 x 2 (float16); segment: vector 4 x 2 (float16) + links 2 x 24 x 4 + count, key, level 20 = 220;
    # rows file: label 8 + slot 4 = 12
    assert hub_catalog.disk_needed(model, 10) == DiskNeed(1000, 400, 10 * (16 + 220 + 12))


def test_index_bytes_match_what_a_saved_vector_index_takes(tmp_path):
    from desktop.core import vector_index

    assert hub_catalog.HNSW_M == vector_index.HNSW_M
    dim, count = 64, 3000
    vectors = np.random.default_rng(0).standard_normal((count, dim)).astype(np.float32)
    index = vector_index.VectorIndex(dim, tmp_path / "index" / "key", encoder_id="e", bundle="b", catalog_id="c")
    index.add(np.arange(1, count + 1), vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    index.save()
    saved = sum(p.stat().st_size for p in (tmp_path / "index").iterdir())
    assert saved == pytest.approx(count * hub_catalog.index_bytes_per_photo(dim), rel=0.05)


def test_indexing_time_is_decode_plus_tower_per_photo_worked_by_hand():
    model = _model(gflops_image=10.0)
    machine = Machine(gflops_per_s=50.0, decode_seconds=0.05, basis="test")
    assert hub_catalog.indexing_seconds(model, 1000, machine) == pytest.approx(1000 * (10 / 50 + 0.05))


def test_this_machine_is_measured_in_well_under_a_second():
    machine = hub_catalog.measure_machine()
    assert machine.gflops_per_s > 1 and 0 < machine.decode_seconds < 1 and "GFLOP/s" in machine.basis


def test_a_model_that_does_not_fit_is_refused_before_downloading_in_one_actionable_line(tmp_path):
    model = hub_catalog.find("openai/clip-vit-large-patch14")
    with pytest.raises(DiskFullError) as caught:
        hub_catalog.check_fits(model, 5000, download_dir=tmp_path / "downloads", free_space=lambda folder: 500_000_000)
    message = str(caught.value)
    assert isinstance(caught.value, PicsiftError) and "\n" not in message
    assert "CLIP ViT-L/14 (OpenAI) needs 3.4 GB" in message and "500 MB is free" in message
    assert "vectors for 5000 photos" in message and "choose a smaller model" in message


def test_a_model_that_fits_returns_its_need(tmp_path):
    model = hub_catalog.find("nvidia/groupvit-gcc-yfcc")
    need = hub_catalog.check_fits(model, 100, download_dir=tmp_path, free_space=lambda folder: 10**12)
    assert need == hub_catalog.disk_needed(model, 100)


def test_shares_on_one_disk_add_up(tmp_path):
    model = hub_catalog.find("nvidia/groupvit-gcc-yfcc")
    need = hub_catalog.disk_needed(model, 100)  # download, bundle and vectors all land on tmp_path's disk
    just_short = need.total - 1
    assert just_short > max(need.download_bytes, need.bundle_bytes, need.vectors_bytes)
    with pytest.raises(DiskFullError):
        hub_catalog.check_fits(model, 100, download_dir=tmp_path, free_space=lambda folder: just_short)


def test_the_free_space_is_read_with_shutil_disk_usage_by_default(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda folder: usage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(DiskFullError, match="1 kB is free"):
        hub_catalog.check_fits(hub_catalog.find("openai/clip-vit-base-patch32"), 10, download_dir=tmp_path)


def test_installed_models_are_found_by_provenance_or_by_the_converters_name(tmp_path):
    from toy_bundle import edit_manifest, export_toy_bundle

    registry.install(export_toy_bundle(tmp_path / "by-name", name="clip-vit-base-patch32"))
    tuned = export_toy_bundle(tmp_path / "tuned", name="my-holiday-model", seed=1)
    edit_manifest(tuned, lambda data: data["provenance"].__setitem__("base_weights", "google/siglip-base-patch16-224"))
    registry.install(tuned)
    registry.install(export_toy_bundle(tmp_path / "other", name="unrelated", seed=2))
    assert hub_catalog.installed_bundles() == {"openai/clip-vit-base-patch32": "clip-vit-base-patch32",
                                               "google/siglip-base-patch16-224": "my-holiday-model"}


def test_the_readme_table_lists_the_catalog_models():
    section = README.read_text(encoding="utf-8").split("## Getting a better model", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE)
    assert listed == [model.hub_id for model in hub_catalog.hub_models()]


def test_a_conversion_that_cannot_fit_in_memory_is_refused_before_downloading():
    model = next(m for m in hub_catalog.hub_models() if m.hub_id == "google/siglip-so400m-patch14-384")
    with pytest.raises(PicsiftError, match="needs about .* of memory and this computer has 4.0 GB; choose a smaller model"):
        hub_catalog.check_memory(model, memory=4_000_000_000)
    hub_catalog.check_memory(model, memory=64_000_000_000)  # fits: nothing raised
    assert hub_catalog.conversion_memory_bytes(model) == 12 * model.parameters
