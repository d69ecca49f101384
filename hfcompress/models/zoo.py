"""Architectures to train from scratch, named ``scratch:<name>`` wherever a model is expected.

Offline there is no pretrained ResNet to start from, and CIFAR-10 is small enough to train one.
These are ordinary transformers configs (``ResNetConfig``), so everything downstream (saving,
loading, pruning, quantization) sees a normal transformers model.
"""

from __future__ import annotations

from transformers import PretrainedConfig, ResNetConfig

from hfcompress.errors import ModelLoadError

PREFIX = "scratch:"


def _resnet(depths, widths, layer_type="basic", stem=None) -> ResNetConfig:
    return ResNetConfig(embedding_size=stem or widths[0], hidden_sizes=list(widths), depths=list(depths),
                        layer_type=layer_type, hidden_act="relu")


ARCHITECTURES = {
    # the torchvision / timm shapes
    "resnet18": lambda: _resnet([2, 2, 2, 2], [64, 128, 256, 512]),
    "resnet34": lambda: _resnet([3, 4, 6, 3], [64, 128, 256, 512]),
    "resnet50": lambda: _resnet([3, 4, 6, 3], [256, 512, 1024, 2048], "bottleneck", stem=64),
    # narrow variants sized for CPU training on CIFAR-10
    "resnet18-w32": lambda: _resnet([2, 2, 2, 2], [32, 64, 128, 256]),
    "resnet18-w16": lambda: _resnet([2, 2, 2, 2], [16, 32, 64, 128]),
    "resnet10-w16": lambda: _resnet([1, 1, 1, 1], [16, 32, 64, 128]),
    # the stock ResNet stem (7x7 stride-2 conv + stride-2 max-pool) shrinks a 32 px CIFAR image to
    # 8 px before the first stage, which caps accuracy near 73%; seen through an image processor that
    # upsamples to 64 px, the first stage works on 16 px maps and the model stays a stock ResNet
    "resnet18-w32-64px": lambda: _resnet([2, 2, 2, 2], [32, 64, 128, 256]),
}

# input resolution of the architectures whose saved image processor resizes (default: 32 px, no resize)
INPUT_SIZES = {"resnet18-w32-64px": 64}


def is_scratch(name: str) -> bool:
    return str(name).startswith(PREFIX)


def _arch(name: str) -> str:
    arch = str(name)[len(PREFIX):]
    if arch not in ARCHITECTURES:
        raise ModelLoadError(f"unknown architecture {name!r}; known: "
                             + ", ".join(PREFIX + a for a in sorted(ARCHITECTURES)))
    return arch


def scratch_preprocessor(name: str):
    """The image processor saved beside a ``scratch:`` model: CIFAR-10 normalisation, and a
    bilinear resize where the architecture is meant to see larger images (``INPUT_SIZES``)."""
    from hfcompress.tasks.vision import default_image_processor

    return default_image_processor(INPUT_SIZES.get(_arch(name), 32))


def scratch_config(name: str, **label_kwargs) -> PretrainedConfig:
    config = ARCHITECTURES[_arch(name)]()
    for key, value in label_kwargs.items():
        setattr(config, key, value)
    return config
