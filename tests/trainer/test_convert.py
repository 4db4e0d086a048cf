"""Tiny CLIP, ALIGN, AltCLIP, GroupViT, SigLIP and SigLIP 2 models convert to bundles that load and search like torch."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tiny_models import LOGIT_BIAS, LOGIT_SCALE, SIGLIP_LENGTH, hf_image_features, hf_text_features, make_tiny
from transformers import AutoModel

import trainer.export.bundle
from models import registry
from models.manifest import TEXT_ENCODER, TEXT_INPUTS
from models.runtime import ModelRuntime
from trainer.cli import main as trainer_main
from trainer.export.convert import CONVERT_STEPS
from trainer.export.families import FAMILIES

pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor to a Python boolean:torch.jit.TracerWarning")


@pytest.mark.parametrize("family", FAMILIES)
def test_converted_family_bundle_reproduces_the_transformers_model(family, tmp_path):
    source = make_tiny(family, tmp_path / family)
    assert trainer_main(["convert", str(source), "--name", f"tiny-{family}"]) == 0
    runtime = ModelRuntime(registry.open_installed(f"tiny-{family}"), device="cpu")
    assert runtime.manifest.family == family

    size = runtime.manifest.image_preprocess.size
    pixels = np.random.default_rng(3).normal(size=(2, 3, size, size)).astype(np.float32)
    texts = ["a photo of a cat", "boats on a lake"]
    model = AutoModel.from_pretrained(source, dtype=torch.float32).eval()
    ids, mask = runtime.tokenizer(texts)
    with torch.no_grad():
        expected_images = F.normalize(hf_image_features(model, family, torch.from_numpy(pixels)), dim=-1)
        expected_texts = F.normalize(hf_text_features(model, family, torch.from_numpy(ids), torch.from_numpy(mask)), dim=-1)
    np.testing.assert_allclose(runtime.encode_images(pixels), expected_images.numpy(), atol=1e-4)
    np.testing.assert_allclose(runtime.encode_texts(texts), expected_texts.numpy(), atol=1e-4)
    assert runtime.manifest.provenance["export_parity"]["text_encoder"]["min_cosine"] >= 0.9999


@pytest.mark.parametrize("family", ["siglip", "siglip2"])
def test_converted_siglip_bundle_pads_to_its_fixed_length_and_records_its_sigmoid_logit(family, tmp_path):
    source = make_tiny(family, tmp_path / family)
    assert trainer_main(["convert", str(source), "--name", f"tiny-{family}"]) == 0
    runtime = ModelRuntime(registry.open_installed(f"tiny-{family}"), device="cpu")
    ids, mask = runtime.tokenizer(["rocket", "boats on a lake at sunset"])
    assert ids.shape == (2, SIGLIP_LENGTH) and mask[0].sum() < mask[1].sum() < SIGLIP_LENGTH
    assert runtime.manifest.text.padding == "max_length" and runtime.manifest.image_preprocess.resize == "squash"
    provenance = runtime.manifest.provenance
    assert (provenance["logit_scale"], provenance["logit_bias"]) == (LOGIT_SCALE, LOGIT_BIAS)
    # The graph ignores the mask yet still declares it, so it takes what the runtime feeds.
    assert sorted(i.name for i in runtime._session(TEXT_ENCODER).get_inputs()) == sorted(TEXT_INPUTS)
    embeddings = runtime.encode_texts(["rocket", "two dogs"])
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)  # cosines, as picsift calibrates


def test_convert_progress_jsonl_reports_every_step_then_installs(tmp_path, capsys):
    source = make_tiny("siglip", tmp_path / "siglip")
    assert trainer_main(["convert", str(source), "--name", "stepped", "--progress", "jsonl"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events == [{"event": "step", "step": k, "steps": len(CONVERT_STEPS), "name": name}
                      for k, name in enumerate(CONVERT_STEPS, start=1)]
    assert CONVERT_STEPS[0] == "loading the model" and CONVERT_STEPS[-1] == "installing the bundle"
    assert "stepped" in [b.name for b in registry.list_bundles()]


def test_a_failed_parity_gate_installs_nothing_and_keeps_the_active_model(tmp_path, capsys, monkeypatch):
    source = make_tiny("clip", tmp_path / "clip")
    active = registry.active_name()
    monkeypatch.setattr(trainer.export.bundle, "MIN_COSINE", 1.5)  # no export can reach it
    assert trainer_main(["convert", str(source), "--name", "gated", "--progress", "jsonl"]) == 1
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[-2]["name"] == "checking the exported graphs against PyTorch"
    assert events[-1]["event"] == "error" and "\n" not in events[-1]["message"]
    assert events[-1]["message"].endswith("nothing was installed and the active model is unchanged")
    assert "gated" not in [b.name for b in registry.list_bundles()] and registry.active_name() == active
    assert not any(p.name.startswith(".") for p in registry.bundle_folder("gated").parent.iterdir())  # no staging left


def test_hub_id_of_a_downloaded_folder_names_the_bundle_and_its_base_weights(tmp_path):
    source = make_tiny("siglip2", tmp_path / "download")
    assert trainer_main(["convert", str(source), "--hub-id", "google/siglip2-base-patch16-naflex"]) == 0
    manifest = registry.open_installed("siglip2-base-patch16-naflex").manifest
    assert manifest.provenance["base_weights"] == "google/siglip2-base-patch16-naflex"
    assert manifest.family == "siglip2"


def test_a_malformed_hub_id_is_refused_before_loading(tmp_path, capsys):
    assert trainer_main(["convert", str(tmp_path), "--hub-id", "not a/hub/id"]) == 1
    assert "is not a hub model id" in capsys.readouterr().err


def test_picsift_model_convert_runs_the_trainer_as_a_process_and_installs(tmp_path):
    source = make_tiny("clip", tmp_path / "clip")
    done = subprocess.run(
        [sys.executable, "-m", "desktop.cli", "model", "convert", str(source), "--name", "via-cli"],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "via-cli" in [b.name for b in registry.list_bundles()]


def test_converting_an_unknown_folder_is_a_one_line_error(tmp_path, capsys):
    assert trainer_main(["convert", str(tmp_path / "nothing-here")]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"step 1 of {len(CONVERT_STEPS)}: loading the model", lines[-1]]
    assert lines[-1].startswith("picsift: error:") and "not found; check the path" in lines[-1]


@pytest.mark.parametrize("family", FAMILIES)
def test_both_command_lines_offer_every_family_the_trainer_converts(family):
    from desktop.cli import build_parser as desktop_parser
    from trainer.cli import build_parser as trainer_parser

    assert trainer_parser().parse_args(["convert", "src", "--family", family]).family == family
    assert desktop_parser().parse_args(["model", "convert", "src", "--family", family]).family == family
