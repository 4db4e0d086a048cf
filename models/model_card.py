"""A short model card (MODEL_CARD.md) written from a bundle's manifest: what it is, what it was trained on, how well.

Every exported bundle carries one, so a model handed to someone else says where its weights came
from, what data tuned it, its held-out figures against the model it started from, and what it
cannot be trusted for. Generated, never hand-edited: the manifest is the single source.
"""

from __future__ import annotations

from models.manifest import Manifest

CARD_FILE = "MODEL_CARD.md"
CARD_METRICS = ("text_to_image_mAP@all", "image_to_text_mAP@all", "text_to_image_R@1", "text_to_image_R@5",
                "image_to_text_R@1")


def model_card(manifest: Manifest) -> str:
    """The markdown card of `manifest`."""
    provenance = manifest.provenance
    lines = [f"# {manifest.name}", "",
             f"A picsift model bundle (schema {manifest.schema_version}, family `{manifest.family}`), created "
             f"{manifest.created or 'at an unknown time'}. Image and text encoders, their mappers into one "
             f"{manifest.embedding_dim}-d space, and the tokenizer, as ONNX; load it with `picsift model import`.", "",
             "## Weights", ""]
    weights = provenance.get("base_weights")
    if isinstance(weights, dict):
        lines += [f"- {side}: {source}" for side, source in weights.items()]
    elif weights:
        lines.append(f"- {weights}")
    training = provenance.get("training")
    if isinstance(training, dict) and training.get("base"):
        lines.append(f"- started from: {training['base']}")
    lines += ["", "## Training", ""]
    if isinstance(training, dict):
        lines.append(f"- stages: {', '.join(training.get('stages', [])) or 'none'}; objective "
                     f"{training.get('objective', '?')}; mix weight a = {training.get('mix_weight', '?')}; "
                     f"seed {training.get('seed', '?')}; checkpoint chosen on {training.get('selected_on', 'val')}")
    else:
        lines.append("- not fine-tuned")
    data = provenance.get("training_data")
    if isinstance(data, dict):
        classes = data.get("classes") or []
        shown = ", ".join(map(str, classes[:20])) + (f", ... ({len(classes)} in all)" if len(classes) > 20 else "")
        lines.append(f"- data: {data.get('source', '?')} ({data.get('format', '?')}); train {data.get('train_size', '?')}, "
                     f"val {data.get('val_size', '?')}, test {data.get('test_size', '?')} images"
                     + (f"; labels: {shown}" if classes else ""))
    elif data:
        lines.append(f"- data: {data}")
    metrics = provenance.get("metrics")
    if isinstance(metrics, dict) and isinstance(metrics.get("fine_tuned"), dict):
        before, after = metrics.get("baseline") or {}, metrics["fine_tuned"]
        lines += ["", f"## Held-out results ({metrics.get('split', 'test')} split)", "",
                  "| metric | model it started from | this model |", "|---|---|---|"]
        lines += [f"| {key.replace('_', ' ')} | {_figure(before.get(key))} | {_figure(after.get(key))} |"
                  for key in CARD_METRICS if key in after]
    lines += ["", "## Use and limits", "",
              "- Meant for searching personal photo collections by text or by example, offline.",
              "- Fine-tuned figures hold for photos like the training folders; labels it never saw fall back on "
              "the base model's zero-shot knowledge.",
              "- Similarity scores are cosine values, comparable within one model only.", ""]
    return "\n".join(lines)


def _figure(value) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "-"
