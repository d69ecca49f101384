"""Image classification tasks (CIFAR-10 from ``uoft-cs/cifar10``)."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

from typing import TYPE_CHECKING

from hfcompress.tasks.base import Task, stack_collator

if TYPE_CHECKING:
    import datasets
    import torch
    from PIL import Image

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def default_image_processor(size: int = 32):
    """Rescale + normalise with CIFAR-10 statistics; no resize at 32 px (models see the 32x32
    images), a bilinear resize to ``size`` otherwise."""
    try:  # transformers 5.x: the PIL/numpy backend (the default one needs torchvision)
        from transformers import ViTImageProcessorPil as processor_class
    except ImportError:  # transformers 4.x: ViTImageProcessor is the PIL/numpy backend
        from transformers import ViTImageProcessor as processor_class
    return processor_class(do_resize=size != 32, size={"height": size, "width": size}, resample=2,  # bilinear
                           do_rescale=True, do_normalize=True, image_mean=list(CIFAR10_MEAN), image_std=list(CIFAR10_STD))


def to_pil(value) -> "Image.Image":
    """Rows hold PIL images (Image feature) or {'bytes', 'path'} structs (plain parquet)."""
    from PIL import Image

    if isinstance(value, Image.Image):
        return value.convert("RGB")
    if isinstance(value, dict) and value.get("bytes") is not None:
        return Image.open(io.BytesIO(value["bytes"])).convert("RGB")
    raise TypeError(f"cannot decode image value of type {type(value).__name__}")


def random_crop_flip(pixels: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """The standard CIFAR augmentation (pad-and-crop, horizontal flip) on one CHW tensor.

    Written by hand because torchvision's wheels do not install beside the CPU torch build this
    project pins; it is ten lines and needs nothing else.
    """
    import torch

    c, h, w = pixels.shape
    padded = torch.nn.functional.pad(pixels, (padding,) * 4)
    top, left = torch.randint(0, 2 * padding + 1, (2,), generator=generator).tolist()
    out = padded[:, top:top + h, left:left + w]
    if torch.rand((), generator=generator).item() < 0.5:
        out = out.flip(-1)
    return out


@dataclasses.dataclass(frozen=True)
class ImageClassificationTask(Task):
    image_column: str = "img"
    modality = "image"

    @property
    def model_class(self):
        from transformers import AutoModelForImageClassification

        return AutoModelForImageClassification

    def required_columns(self) -> list[str]:
        return [self.image_column, self.label_column]

    def load_preprocessor(self, model_dir: str):
        from transformers import AutoImageProcessor

        if model_dir and (Path(model_dir) / "preprocessor_config.json").is_file():
            return AutoImageProcessor.from_pretrained(model_dir)
        try:
            return AutoImageProcessor.from_pretrained(model_dir)
        except (OSError, ValueError):
            return default_image_processor()

    def preprocess(self, ds: datasets.Dataset, preprocessor, max_length: int = 128,
                   train: bool = False) -> datasets.Dataset:
        import torch

        image_col, label_col = self.image_column, self.label_column
        generator = torch.Generator().manual_seed(0)

        def transform(batch):
            images = self._images(batch[image_col], preprocessor)
            pixels = preprocessor(images, return_tensors="pt")["pixel_values"]
            if train:  # CIFAR's 4 px of padding at 32 px, scaled with the processor's resolution
                padding = max(1, pixels.shape[-1] // 8)
                pixels = torch.stack([random_crop_flip(p, padding, generator) for p in pixels])
            return {"pixel_values": list(pixels), "labels": batch[label_col]}

        return ds.with_transform(transform)

    def _images(self, values, preprocessor) -> list:
        """RGB PIL images of one batch (custom tasks also bring odd sizes to the processor's size)."""
        return [to_pil(v) for v in values]

    def collator(self, preprocessor):
        return stack_collator


CIFAR10 = ImageClassificationTask(
    name="cifar10", hub_id="uoft-cs/cifar10", hub_config="plain_text",
    label_names=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    metric="accuracy", eval_splits=("test",),
)
