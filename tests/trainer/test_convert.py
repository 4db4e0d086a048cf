"""Tiny CLIP, ALIGN, AltCLIP and GroupViT models convert to bundles that load and search like torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModel

from models import registry
from models.runtime import ModelRuntime
from tiny_models import make_tiny
from trainer.cli import main as trainer_main
from trainer.families import FAMILIES

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
        expected_images = F.normalize(model.get_image_features(pixel_values=torch.from_numpy(pixels)).pooler_output, dim=-1)
        expected_texts = F.normalize(
            model.get_text_features(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).pooler_output, dim=-1
        )
    np.testing.assert_allclose(runtime.encode_images(pixels), expected_images.numpy(), atol=1e-4)
    np.testing.assert_allclose(runtime.encode_texts(texts), expected_texts.numpy(), atol=1e-4)


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
    err = capsys.readouterr().err
    assert err.startswith("picsift: error:") and err.count("\n") == 1
