"""ImageNet's classes (and their WordNet hypernyms) as text embeddings: the text side every zero-shot bridge stands on.

Each class becomes the mean of prompt templates x its lemmas plus "lemmas: gloss" (ClassTexts);
a TextEmbedder wraps the text tower (torch token ids, or an ONNX graph reading raw strings).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

DATA = Path(__file__).resolve().parents[2] / "models" / "data"
IMAGENET_CLASSES = DATA / "imagenet_classes.txt"  # comma-separated lemmas, one line per class
IMAGENET_GLOSSES = DATA / "imagenet_glosses.txt"  # the WordNet 3.0 gloss of each class, same order
IMAGENET_HYPERNYMS = DATA / "imagenet_hypernyms.txt"  # WordNet ancestors of the classes, their lemmas, glosses, classes
EMBED_BATCH = 256  # sentences per text-encoder call while embedding class names


@dataclass(frozen=True)
class ClassTexts:
    """How each ImageNet class becomes one text embedding.

    The mean of `templates` x lemmas (CLIP-style prompt ensembling), plus, with `gloss`, the
    embedding of "lemma, lemma: gloss" with equal weight. Glosses name what the lemma alone
    does not ("sweatshirt: cotton knit pullover with long sleeves ..."), which MiniLM needs.
    """

    templates: tuple[str, ...] = ("a photo of a {}.",)
    max_lemmas: int | None = None  # lemmas used per class, None = all
    gloss: bool = True


# Chosen with the bridge (trainer.zero_shot.bridges): glosses lift the correlation bridge by +0.04..0.09 over
# each lemma-only variant; all lemmas + gloss scored 0.400 but took 29 s, over the 25 s build budget, so the
# first lemma + gloss (0.396, ~25 s).
CLASS_TEXTS = ClassTexts(templates=("a photo of a {}.",), max_lemmas=1, gloss=True)
# Model v2's richer class texts, chosen on the general-photos dev split (tests/benchmarks/model_v2_study.py).
V2_CLASS_TEXTS = ClassTexts(templates=("a photo of a {}.", "a photo of the {}.", "a close-up photo of a {}.",
                                       "a good photo of a {}.", "a {} in the picture."), max_lemmas=None, gloss=True)
HYPERNYM_LEMMAS = 3  # lemmas of a hypernym embedded in the first template ("a photo of a feline.")


def imagenet_lemmas(path: Path = IMAGENET_CLASSES) -> list[list[str]]:
    """The 1000 classes in index order, each as its lemmas (["jersey", "T-shirt", "tee shirt"])."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [[lemma.strip() for lemma in line.split(",") if lemma.strip()] for line in lines]


def imagenet_glosses(path: Path | None = None) -> list[str]:
    """The WordNet gloss of each class in index order; lines starting with "#" (the licence) are skipped."""
    path = path or IMAGENET_GLOSSES
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the WordNet glosses of the ImageNet classes are missing; reinstall picsift")
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if not line.startswith("#")]


def load_tokenizer(tokenizer_json: str | Path, max_length: int = 128):
    """The tokenizers-library tokenizer, padding each batch to its longest text only."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_json))
    tokenizer.enable_truncation(max_length=max_length)
    pad = tokenizer.padding or {}
    tokenizer.enable_padding(pad_id=pad.get("pad_id", 0), pad_token=pad.get("pad_token", "[PAD]"))
    return tokenizer


@torch.no_grad()
def embed_texts(text_encoder: nn.Module, tokenizer, texts: list[str],
                on_batch: Callable[[int], None] = lambda count: None) -> torch.Tensor:
    """texts -> (N, Dt) text-encoder outputs, in batches of EMBED_BATCH; `on_batch(count)` after each.

    Batches are formed in order of length so each pads to about its own length (outputs do not
    depend on padding; this roughly halves the time for texts of mixed lengths).
    """
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    chunks = []
    for start in range(0, len(texts), EMBED_BATCH):
        encodings = tokenizer.encode_batch([texts[i] for i in order[start : start + EMBED_BATCH]])
        ids = torch.tensor([e.ids for e in encodings], dtype=torch.int64)
        mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.int64)
        chunks.append(text_encoder(ids, mask))  # (b, Dt)
        on_batch(len(encodings))
    out = torch.empty(len(texts), chunks[0].shape[1])
    out[torch.tensor(order)] = torch.cat(chunks)
    return out


TextEmbedder = Callable[[list[str], Callable[[int], None]], torch.Tensor]  # (texts, on_batch(count)) -> (N, Dt)


def torch_embedder(text_encoder: nn.Module, tokenizer) -> TextEmbedder:
    """A torch token-ids text tower (MiniLM) as a TextEmbedder."""
    return lambda texts, on_batch: embed_texts(text_encoder, tokenizer, texts, on_batch)


def strings_embedder(encoder) -> TextEmbedder:
    """A raw-strings text tower (trainer.encoders.multilingual.MultilingualTextEncoder) as a TextEmbedder."""
    def embed(texts: list[str], on_batch: Callable[[int], None]) -> torch.Tensor:
        out = []
        for start in range(0, len(texts), EMBED_BATCH):
            out.append(torch.from_numpy(encoder(texts[start : start + EMBED_BATCH])))
            on_batch(len(out[-1]))
        return torch.cat(out) if out else torch.zeros(0, 0)
    return embed


class DescribedItems(NamedTuple):
    """Things embedded alike (ImageNet classes, their WordNet hypernyms): each item's first `max_names`
    names in every template, averaged, plus "all names: gloss" with equal weight (see ClassTexts)."""

    names: list[list[str]]  # every name of each item
    templates: tuple[str, ...]
    max_names: int | None  # names per item put in the templates, None = all
    glosses: list[str] | None  # one per item; None: names only

    def prompts(self) -> tuple[list[str], list[int]]:
        """(templated texts, the item each belongs to)."""
        prompts, owner = [], []
        for index, names in enumerate(self.names):
            for name in names[: self.max_names]:
                prompts += [template.format(name) for template in self.templates]
                owner += [index] * len(self.templates)
        return prompts, owner

    def described(self) -> list[str]:
        return [f"{', '.join(names)}: {gloss}" for names, gloss in zip(self.names, self.glosses or ())]

    def count(self) -> int:
        """How many texts embedding them takes."""
        return len(self.prompts()[0]) + len(self.described())


def embed_items(embed: TextEmbedder, items: DescribedItems, on_batch: Callable[[int], None] = lambda count: None) -> torch.Tensor:
    """(N, Dt) unit vectors, one per item; `on_batch(count)` after each batch of texts."""
    prompts, owner = items.prompts()
    out = None
    if prompts:
        embedded = F.normalize(embed(prompts, on_batch), dim=-1)  # (P, Dt)
        out = torch.zeros(len(items.names), embedded.shape[1]).index_add_(0, torch.tensor(owner), embedded)
        out = F.normalize(out, dim=-1)  # (N, Dt)
    if items.glosses is not None:
        glossed = F.normalize(embed(items.described(), on_batch), dim=-1)  # (N, Dt)
        out = glossed if out is None else F.normalize(glossed + out, dim=-1)
    return out if out is not None else torch.zeros(len(items.names), 0)


def class_items(texts: ClassTexts) -> DescribedItems:
    """The 1000 ImageNet classes as `texts` describes them."""
    lemmas = imagenet_lemmas()
    glosses = imagenet_glosses() if texts.gloss else None
    if glosses is not None and len(glosses) != len(lemmas):
        raise ValueError(f"{len(glosses)} glosses for {len(lemmas)} ImageNet classes; the data files disagree")
    return DescribedItems(lemmas, texts.templates, texts.max_lemmas, glosses)


def class_name_embeddings(embed: TextEmbedder, texts: ClassTexts = CLASS_TEXTS,
                          on_progress: Callable[[int, int], None] = lambda done, total: None) -> torch.Tensor:
    """(1000, Dt) unit vectors, one per ImageNet class, as `texts` describes; `on_progress(texts done, total)`."""
    items = class_items(texts)
    total, done = items.count(), [0]

    def batch_done(count: int) -> None:
        done[0] += count
        on_progress(done[0], total)

    return embed_items(embed, items, batch_done)


@dataclass(frozen=True)
class Hypernym:
    """A WordNet ancestor of some ImageNet classes ("feline": tabby, tiger cat, lion, ...)."""

    lemmas: list[str]
    gloss: str
    classes: list[int]  # indices into imagenet_classes.txt


def imagenet_hypernyms(path: Path = IMAGENET_HYPERNYMS) -> list[Hypernym]:
    """The ancestors listed in the data file (see its header), in file order."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the WordNet hypernyms of the ImageNet classes are missing; reinstall picsift")
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        _, lemmas, gloss, classes = line.split("\t")
        out.append(Hypernym([w.strip() for w in lemmas.split(",")], gloss, [int(c) for c in classes.split()]))
    return out


def hypernym_items(nodes: list[Hypernym], texts: ClassTexts, lemmas: int = HYPERNYM_LEMMAS) -> DescribedItems:
    """The hypernyms described like classes: their first `lemmas` lemmas in the first template, plus the gloss."""
    return DescribedItems([n.lemmas for n in nodes], texts.templates[:1], lemmas, [n.gloss for n in nodes])


def hypernym_spread(nodes: list[Hypernym]) -> torch.Tensor:
    """(K, 1000): each hypernym's weight spread evenly over its classes."""
    spread = torch.zeros(len(nodes), len(imagenet_lemmas()))
    for index, node in enumerate(nodes):
        spread[index, node.classes] = 1.0 / len(node.classes)
    return spread
