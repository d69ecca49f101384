"""Distribution shift for evaluation: image corruptions in the style of CIFAR-10-C and character noise.

Corruptions are applied to raw examples before preprocessing and are deterministic: example ``i``
is corrupted with a generator seeded by ``(seed, i)``, so every model sees the same shifted data.
Severity parameters follow Hendrycks & Dietterich (2019), "Benchmarking Neural Network Robustness to
Common Corruptions and Perturbations", CIFAR-10-C settings. Written by hand: the reference code needs
packages (wand, skimage) that are not needed here, and each corruption is a few lines of numpy/PIL.
Out-of-distribution *datasets* need no code: evaluate an SST-2 model on ``--task rotten_tomatoes``.
"""

from __future__ import annotations

import io
import string
from typing import Callable

import datasets
import numpy as np
from PIL import Image

from hfcompress.errors import ConfigError

SEVERITIES = (1, 2, 3, 4, 5)


def _gaussian_noise(x: np.ndarray, s: int, rng) -> np.ndarray:
    c = (0.04, 0.06, 0.08, 0.09, 0.10)[s - 1]
    return np.clip(x / 255.0 + rng.normal(size=x.shape, scale=c), 0, 1) * 255


def _gaussian_blur(x: np.ndarray, s: int, rng) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    sigma = (0.4, 0.6, 0.7, 0.8, 1.0)[s - 1]
    return np.clip(gaussian_filter(x / 255.0, sigma=(sigma, sigma, 0)), 0, 1) * 255


def _contrast(x: np.ndarray, s: int, rng) -> np.ndarray:
    c = (0.75, 0.5, 0.4, 0.3, 0.15)[s - 1]
    x = x / 255.0
    means = x.mean(axis=(0, 1), keepdims=True)
    return np.clip((x - means) * c + means, 0, 1) * 255


def _jpeg(x: np.ndarray, s: int, rng) -> np.ndarray:
    quality = (80, 65, 58, 50, 40)[s - 1]
    buf = io.BytesIO()
    Image.fromarray(x.astype(np.uint8)).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"), dtype=np.float64)


IMAGE_CORRUPTIONS: dict[str, Callable] = {
    "gaussian_noise": _gaussian_noise, "gaussian_blur": _gaussian_blur, "contrast": _contrast, "jpeg": _jpeg,
}


def char_noise(text: str, s: int, rng) -> str:
    """Typos: each letter is, with probability rate(s), dropped, doubled, swapped or replaced."""
    rate = (0.02, 0.05, 0.10, 0.15, 0.20)[s - 1]
    chars, out, i = list(text), [], 0
    while i < len(chars):
        ch = chars[i]
        if ch.isalpha() and rng.random() < rate:
            op = rng.integers(4)
            if op == 0:  # drop
                pass
            elif op == 1:  # double
                out += [ch, ch]
            elif op == 2 and i + 1 < len(chars):  # swap with the next character
                out += [chars[i + 1], ch]
                i += 1
            else:  # replace
                out.append(string.ascii_lowercase[rng.integers(26)])
        else:
            out.append(ch)
        i += 1
    return "".join(out)


TEXT_CORRUPTIONS: dict[str, Callable] = {"char_noise": char_noise}


def parse_corruption(spec: str, modality: str) -> tuple[str, int]:
    """``name:severity`` (severity 1-5, default 3), checked against the task's modality."""
    name, _, sev = spec.partition(":")
    table = IMAGE_CORRUPTIONS if modality == "image" else TEXT_CORRUPTIONS
    if name not in table:
        raise ConfigError(f"corruption {name!r} does not apply to {modality} tasks; choose from {', '.join(table)}")
    try:
        severity = int(sev) if sev else 3
    except ValueError:
        raise ConfigError(f"corruption severity must be an integer 1-5, got {sev!r}") from None
    if severity not in SEVERITIES:
        raise ConfigError(f"corruption severity must be 1-5, got {severity}")
    return name, severity


def corrupt(ds: datasets.Dataset, task, spec: str, seed: int = 0) -> datasets.Dataset:
    """``ds`` with every example's image or text corrupted as ``spec`` says (deterministically)."""
    name, severity = parse_corruption(spec, task.modality)
    if task.modality == "image":
        fn, column = IMAGE_CORRUPTIONS[name], task.image_column

        def apply(example, idx):
            from hfcompress.tasks.vision import to_pil

            rng = np.random.default_rng((seed, idx))
            pixels = np.asarray(to_pil(example[column]), dtype=np.float64)
            example[column] = Image.fromarray(np.uint8(np.round(fn(pixels, severity, rng))))
            return example
    else:
        fn, columns = TEXT_CORRUPTIONS[name], task.text_columns

        def apply(example, idx):
            rng = np.random.default_rng((seed, idx))
            for c in columns:
                example[c] = fn(example[c], severity, rng)
            return example

    return ds.map(apply, with_indices=True, load_from_cache_file=False, desc=f"corrupting ({spec})")
