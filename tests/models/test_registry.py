"""Installed bundles: list, activate, export to folder or zip, import with validation."""

from __future__ import annotations

import zipfile

import pytest
from toy_bundle import export_toy_bundle

from models import registry
from models.errors import BundleError, PicsiftError
from models.runtime import ModelRuntime


@pytest.fixture
def installed(tmp_path):
    registry.install(export_toy_bundle(tmp_path / "src", name="toy"))
    return "toy"


def test_installed_bundle_is_listed_and_can_be_activated(installed):
    assert [b.name for b in registry.list_bundles()] == ["toy"]
    assert registry.active_name() == registry.DEFAULT_BUNDLE
    registry.use("toy")
    assert registry.active_name() == "toy"
    assert registry.list_bundles()[0].active


def test_exported_zip_imports_and_searches_in_a_fresh_data_dir(installed, tmp_path, monkeypatch):
    archive = registry.export("toy", tmp_path / "out" / "toy.zip")
    monkeypatch.setenv("PICSIFT_DATA_DIR", str(tmp_path / "other-machine"))
    bundle = registry.install(archive, name="imported")
    assert ModelRuntime(bundle).encode_texts(["hello"]).shape == (1, 8)


def test_import_refuses_archive_member_escaping_its_folder(installed, tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("../outside.txt", "x")
    with pytest.raises(BundleError, match="escapes its folder"):
        registry.install(archive)
    assert not (tmp_path / "outside.txt").exists()


def test_import_refuses_archive_with_a_wrong_checksum_and_installs_nothing(installed, tmp_path):
    archive = registry.export("toy", tmp_path / "toy.zip")
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, data + b"x" if item.filename.endswith("text_encoder.onnx") else data)
    with pytest.raises(BundleError, match="checksum"):
        registry.install(bad, name="bad")
    assert "bad" not in [b.name for b in registry.list_bundles()]


def test_import_refuses_archive_missing_a_file(installed, tmp_path):
    archive = registry.export("toy", tmp_path / "toy.zip")
    bad = tmp_path / "missing.zip"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            if not item.filename.endswith("tokenizer.json"):
                dst.writestr(item, src.read(item))
    with pytest.raises(BundleError, match="tokenizer.json is missing"):
        registry.install(bad, name="bad")


def test_importing_over_an_existing_name_needs_replace(installed, tmp_path):
    folder = registry.export("toy", tmp_path / "copy")
    with pytest.raises(PicsiftError, match="already installed"):
        registry.install(folder)
    registry.install(folder, replace=True)


def test_broken_installed_bundle_is_listed_with_its_problem(installed):
    (registry.bundle_folder("toy") / "manifest.json").write_text("{")
    (listed,) = registry.list_bundles()
    assert "not valid JSON" in listed.problem


def test_missing_default_bundle_suggests_building_it():
    with pytest.raises(BundleError, match="picsift model build-default"):
        registry.open_installed()


def test_active_bundle_cannot_be_removed(installed):
    registry.use("toy")
    with pytest.raises(PicsiftError, match="active model"):
        registry.remove("toy")


def test_every_export_carries_a_model_card_written_from_the_manifest(installed, tmp_path):
    archive = registry.export("toy", tmp_path / "toy.zip")
    card = zipfile.ZipFile(archive).read("toy/MODEL_CARD.md").decode()
    assert card.startswith("# toy\n") and "## Weights" in card and "## Use and limits" in card
    folder = registry.export("toy", tmp_path / "toy-folder")
    assert (folder / "MODEL_CARD.md").read_text() == card


def test_a_fine_tuned_card_shows_data_and_held_out_figures_against_its_base(tmp_path):
    from dataclasses import replace

    from models.bundle import open_bundle
    from models.model_card import model_card

    base = open_bundle(export_toy_bundle(tmp_path / "birds", name="birds-tuned")).manifest
    tuned = replace(base, provenance={
        "base_weights": {"image": "EfficientNet-Lite0", "text": "MiniLM"},
        "training_data": {"source": "/photos/Birds", "format": "folders", "classes": ["Robin", "Wren"],
                          "train_size": 80, "val_size": 10, "test_size": 10},
        "training": {"base": "picsift-builtin", "stages": ["mapper"], "objective": "infonce", "mix_weight": 0.5,
                     "seed": 0, "selected_on": "val"},
        "metrics": {"split": "test", "baseline": {"text_to_image_mAP@all": 0.25},
                    "fine_tuned": {"text_to_image_mAP@all": 0.75}}})
    card = model_card(tuned)
    assert "started from: picsift-builtin" in card and "labels: Robin, Wren" in card
    assert "- image: EfficientNet-Lite0" in card and "stages: mapper; objective infonce" in card
    assert "| text to image mAP@all | 0.250 | 0.750 |" in card


def test_import_with_a_new_name_installs_a_bundle_of_that_name(installed, tmp_path):
    archive = registry.export("toy", tmp_path / "toy.zip")  # carries a model card titled "toy"
    bundle = registry.install(archive, name="copy1")
    assert bundle.name == "copy1" and bundle.folder.name == "copy1"
    assert registry.open_installed("copy1").manifest.name == "copy1"
    assert (bundle.folder / "MODEL_CARD.md").read_text().startswith("# copy1\n")
    assert zipfile.ZipFile(registry.export("copy1", tmp_path / "c.zip")).read("copy1/MODEL_CARD.md").startswith(b"# copy1")


def test_import_refuses_a_bundle_whose_graph_fails_the_probe_and_installs_nothing(tmp_path):
    import json

    from models.bundle import sha256_of

    source = export_toy_bundle(tmp_path / "src", name="toy")
    (source / "tokenizer.json").write_text('{"model": ')
    manifest = json.loads((source / "manifest.json").read_text())
    manifest["files"]["tokenizer.json"] = sha256_of(source / "tokenizer.json")
    (source / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="tokenizer cannot be loaded"):
        registry.install(source)
    assert registry.list_bundles() == []


def test_imported_bundle_is_recorded_as_probed(installed):
    from models.probe import PROBE_FILE

    assert (registry.bundle_folder("toy") / PROBE_FILE).is_file()


def test_bundle_folder_with_a_symlink_loop_imports_only_its_own_files(tmp_path):
    source = export_toy_bundle(tmp_path / "src", name="toy")
    (source / "loop").symlink_to(source, target_is_directory=True)
    (source / "notes.txt").write_text("not part of a bundle")
    folder = registry.install(source).folder
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == sorted(
        ["manifest.json", "image_encoder.onnx", "text_encoder.onnx", "image_mapper.onnx", "text_mapper.onnx", "tokenizer.json"])


def test_bundle_file_that_is_a_symbolic_link_is_refused(tmp_path):
    source = export_toy_bundle(tmp_path / "src", name="toy")
    (source / "tokenizer.json").rename(tmp_path / "elsewhere.json")
    (source / "tokenizer.json").symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(BundleError, match="tokenizer.json is a symbolic link"):
        registry.install(source)


def test_zip_that_unpacks_to_far_more_than_its_bundle_files_is_refused_before_extracting(installed, tmp_path):
    archive = registry.export("toy", tmp_path / "toy.zip")
    with zipfile.ZipFile(archive, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as handle:
        handle.writestr("toy/padding.bin", bytes(registry.MAX_EXTRA_BYTES + 1))
    with pytest.raises(BundleError, match="besides the bundle's files"):
        registry.install(archive, name="padded")
    assert not any(p.name.startswith(".import-") for p in registry.paths.models_dir().iterdir())


def test_zip_with_too_many_members_is_refused(tmp_path):
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for i in range(registry.MAX_ZIP_MEMBERS + 1):
            handle.writestr(f"toy/{i}.txt", "")
    with pytest.raises(BundleError, match=f"holds {registry.MAX_ZIP_MEMBERS + 1} entries"):
        registry.install(archive)


def test_builtin_bundle_is_built_only_when_it_is_active_and_absent(tmp_path):
    assert registry.default_build_needed()
    registry.install(export_toy_bundle(tmp_path / "src", name="toy"))
    assert registry.default_build_needed()  # installed, not active: search would still use the built-in one
    registry.use("toy")
    assert not registry.default_build_needed()


def test_zip_with_a_corrupt_member_is_a_one_line_error(installed, tmp_path):
    archive = registry.export("toy", tmp_path / "toy.zip")
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as handle:
        member = handle.getinfo("toy/text_encoder.onnx")
    middle = member.header_offset + 100 + member.compress_size // 2
    data[middle : middle + 64] = bytes(64)
    archive.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="archive is corrupt") as caught:
        registry.install(archive, name="broken")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("text, expected", [
    ("openai/clip-vit-base-patch32", "openai-clip-vit-base-patch32"), ("My Holiday Photos!", "My-Holiday-Photos"),
    ("..hidden", "hidden"), ("café au lait", "caf-au-lait"), ("///", "model"), ("v1.2_final", "v1.2_final")])
def test_safe_name_keeps_letters_digits_dot_dash_underscore_and_is_never_hidden_or_empty(text, expected):
    assert registry.safe_name(text) == expected
    assert registry.safe_name("", fallback="my") == "my"
