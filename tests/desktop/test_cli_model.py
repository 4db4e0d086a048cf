"""`picsift model ...` on real bundles: list marks the active one, export/import round-trip, errors are one line."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from toy_bundle import export_toy_bundle

from desktop.cli import main
from models import registry


@pytest.fixture
def two_bundles(tmp_path):
    for name in ("alpha", "beta"):
        registry.install(export_toy_bundle(tmp_path / name, name=name, seed=len(name)))
    registry.use("beta")


def test_model_list_prints_one_line_per_bundle_name_first_active_starred(two_bundles, capsys):
    assert main(["model", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["alpha", "beta"]
    assert "*" not in lines[0] and lines[1].split()[1] == "*"


def test_model_list_json_gives_the_same_as_objects(two_bundles, capsys):
    main(["model", "list", "--json"])
    listed = json.loads(capsys.readouterr().out)
    assert [(b["name"], b["active"]) for b in listed] == [("alpha", False), ("beta", True)]


def test_model_use_switches_the_active_bundle(two_bundles, capsys):
    assert main(["model", "use", "alpha"]) == 0
    assert registry.active_name() == "alpha"


def test_model_export_then_import_under_a_new_name(two_bundles, tmp_path, capsys):
    archive = tmp_path / "alpha.zip"
    assert main(["model", "export", "alpha", str(archive)]) == 0
    assert main(["model", "import", str(archive), "--name", "gamma"]) == 0
    assert "gamma" in [b.name for b in registry.list_bundles()]


@pytest.mark.parametrize("out", ["copy.zip", "copy"])
def test_picsift_export_writes_what_picsift_model_export_writes(two_bundles, tmp_path, capsys, out):
    assert main(["export", "alpha", str(tmp_path / "alias" / out)]) == 0
    assert main(["model", "export", "alpha", str(tmp_path / "model" / out)]) == 0
    said = capsys.readouterr().out.splitlines()
    assert said == [f"exported alpha to {tmp_path / where / out}" for where in ("alias", "model")]
    assert _contents(tmp_path / "alias" / out) == _contents(tmp_path / "model" / out) != {}


def test_picsift_export_has_the_help_of_picsift_model_export(capsys):
    helps = []
    for argv in (["export", "--help"], ["model", "export", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        helps.append(capsys.readouterr().out.split("\n", 1)[1])  # after the usage line's program name
    assert helps[0] == helps[1] and "a new folder, or a path ending in .zip" in helps[0]


def _contents(exported: Path) -> dict[str, bytes]:
    """Every file of an exported folder or zip by its path inside, with its bytes."""
    if exported.suffix == ".zip":
        with zipfile.ZipFile(exported) as archive:
            return {name: archive.read(name) for name in archive.namelist() if not name.endswith("/")}
    return {str(p.relative_to(exported)): p.read_bytes() for p in exported.rglob("*") if p.is_file()}


def test_using_an_unknown_bundle_is_a_one_line_error(two_bundles, capsys):
    assert main(["model", "use", "nope"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("picsift: error:") and err.count("\n") == 1 and "picsift model list" in err


def test_corrupt_bundle_gives_a_one_line_actionable_error(two_bundles, capsys):
    (registry.bundle_folder("alpha") / "image_encoder.onnx").write_bytes(b"garbage")
    assert main(["model", "use", "alpha"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "image_encoder.onnx does not match its checksum" in err and "re-" in err


def test_model_import_under_a_new_name_prints_that_name(two_bundles, tmp_path, capsys):
    archive = registry.export("alpha", tmp_path / "alpha.zip")
    capsys.readouterr()
    assert main(["model", "import", str(archive), "--name", "copy1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("imported copy1 (verified)") and "alpha" not in out


def test_index_and_search_with_an_imported_active_bundle_never_build_the_builtin_one(two_bundles, tmp_path, monkeypatch, capsys):
    from image_zoo import write_photo

    import desktop.cli.model

    def build(args):
        raise AssertionError(f"built the built-in bundle: {args}")

    monkeypatch.setattr(desktop.cli.model, "run_trainer", build)
    write_photo(tmp_path / "lib" / "coffee.jpg", "coffee", size=(64, 48))
    assert main(["index", str(tmp_path / "lib")]) == 0
    assert main(["search", "coffee", "--json"]) == 0
    assert not registry.bundle_folder(registry.DEFAULT_BUNDLE).exists()


def test_model_import_refuses_a_graph_with_a_disallowed_operator_in_one_line(tmp_path, capsys):
    from onnx import TensorProto, helper

    from models.bundle import sha256_of

    source = export_toy_bundle(tmp_path / "evil", name="evil")
    graph = helper.make_graph([helper.make_node("Steal", ["features"], ["embeddings"], domain="evil.domain")], "mapper",
                              [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 16])],
                              [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", 8])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("evil.domain", 1)])
    (source / "image_mapper.onnx").write_bytes(model.SerializeToString())
    manifest = json.loads((source / "manifest.json").read_text())
    manifest["files"]["image_mapper.onnx"] = sha256_of(source / "image_mapper.onnx")
    (source / "manifest.json").write_text(json.dumps(manifest))
    assert main(["model", "import", str(source)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "image_mapper.onnx: graph uses operator evil.domain::Steal" in err and "re-export" in err
    assert registry.list_bundles() == []


def test_a_version_1_bundle_imports_indexes_and_searches(tmp_path, capsys):
    from image_zoo import write_photo

    source = export_toy_bundle(tmp_path / "old", name="old")
    manifest = json.loads((source / "manifest.json").read_text())
    manifest["schema_version"] = 1  # what picsift wrote before text.input existed
    del manifest["text"]["input"]
    (source / "manifest.json").write_text(json.dumps(manifest))
    assert main(["model", "import", str(source)]) == 0 and main(["model", "use", "old"]) == 0
    write_photo(tmp_path / "lib" / "coffee.jpg", "coffee", size=(64, 48))
    assert main(["index", str(tmp_path / "lib")]) == 0
    capsys.readouterr()
    assert main(["search", "coffee", "--json", "--all"]) == 0
    assert [Path(hit["path"]).name for hit in json.loads(capsys.readouterr().out)["results"]] == ["coffee.jpg"]


def test_model_available_lists_the_catalog_with_markers_and_how_to_get_one(capsys):
    from models import hub_catalog

    assert main(["model", "available"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "every 1,000 photos" in lines[0]  # no library yet
    rows = {line.split()[0]: line for line in lines[2:-1]}
    assert list(rows) == [model.hub_id for model in hub_catalog.hub_models()]
    assert "best for CPU" in rows["openai/clip-vit-base-patch32"] and "609 MB" in rows["openai/clip-vit-base-patch32"]
    assert "best for GPU" in rows["google/siglip-so400m-patch14-384"]
    assert "multilingual (109 languages)" in rows["google/siglip2-base-patch16-224"]
    assert "installed" not in "".join(lines)
    assert "`picsift model convert HUB_ID`" in lines[-1]


def test_model_available_estimates_for_the_librarys_photos_and_marks_an_installed_conversion(tmp_path, capsys):
    from image_zoo import write_photo

    registry.install(export_toy_bundle(tmp_path / "b32", name="clip-vit-base-patch32"))
    registry.use("clip-vit-base-patch32")
    for name in ("coffee", "astronaut", "chelsea"):
        write_photo(tmp_path / "lib" / f"{name}.jpg", name, size=(64, 48))
    assert main(["index", str(tmp_path / "lib")]) == 0
    capsys.readouterr()
    assert main(["model", "available", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["photos"] == 3
    rows = {row["hub_id"]: row for row in listed["models"]}
    assert rows["openai/clip-vit-base-patch32"]["installed"] == "clip-vit-base-patch32"
    assert [hub for hub, row in rows.items() if row["installed"]] == ["openai/clip-vit-base-patch32"]
    large, small = rows["openai/clip-vit-large-patch14"], rows["nvidia/groupvit-gcc-yfcc"]
    assert large["indexing_seconds"] > small["indexing_seconds"] > 0
    # worked from the formats: catalog features 1024 x 2; index segment: float16 vector 768 x 2, links 2 x 24 x 4,
    # their count, key and level 20; rows file: label 8 and slot 4
    assert large["vectors_bytes"] == 3 * (2 * 1024 + 2 * 768 + 2 * 24 * 4 + 20 + 12)
    assert main(["model", "available"]) == 0
    assert "this library: 3 photos" in capsys.readouterr().out
