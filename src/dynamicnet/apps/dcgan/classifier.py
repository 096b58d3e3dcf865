"""A small attribute classifier: the measuring stick for what α does to generated images.

It is trained on the real images of the same split as the GAN (label 1 = the O1 side, ``a ≠ v``) and then used
twice by :mod:`.evaluate`: its decision gives the fraction of generated images that have the O1 attribute at
each α, and its pooled last-layer features are the space of the Fréchet distance to each real subset. Judging
by a trained classifier rather than by eye is the point: "more ankle boots as α grows" becomes a number.

Batches are balanced (half from each side) so that the decision threshold 0.5 does not lean towards the larger
subset (CelebA's attributes are often 80/20). This is not a Dynamic-Net, so it has a short plain loop of its
own rather than the phase-aware trainer.

Files: ``classifier.json`` (architecture, split, accuracy, provenance) + ``classifier.safetensors``, written into
any folder — the bundled model folder carries its classifier next to its generator.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm.auto import tqdm

from ..._version import __version__
from ...errors import DynamicNetError
from ...models import resolve_model
from ...utils.fs import atomic_path, atomic_write_text
from .data import AttributeSplit

CONFIG_NAME = "classifier.json"
WEIGHTS_NAME = "classifier.safetensors"
FORMAT_VERSION = 1


class AttributeClassifier(nn.Module):
    """Images ``(B, C, S, S)`` in [0, 1] → one logit per image (positive = the O1 side of the split).

    conv 3×3 (C→w) → three 4×4 stride-2 convs (w→2w→4w→4w), ReLU after each, global average pooling to the
    ``4w``-dimensional feature vector, linear to the logit. Without normalisation layers it behaves the same in
    train and eval mode and per image, whatever the batch.
    """

    def __init__(self, channels: int = 1, image_size: int = 32, width: int = 16) -> None:
        super().__init__()
        if channels < 1 or width < 1 or image_size < 8:
            raise ValueError(f"need channels ≥ 1, width ≥ 1, image size ≥ 8; got {channels}, {width}, {image_size}")
        self.channels, self.image_size, self.width = channels, image_size, width
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(channels, w, 3, 1, 1),
            nn.ReLU(True),
            nn.Conv2d(w, 2 * w, 4, 2, 1),
            nn.ReLU(True),  # S/2
            nn.Conv2d(2 * w, 4 * w, 4, 2, 1),
            nn.ReLU(True),  # S/4
            nn.Conv2d(4 * w, 4 * w, 4, 2, 1),
            nn.ReLU(True),  # S/8
        )
        self.head = nn.Linear(4 * w, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, S, S) → (B, 4w)
        return self.body(x * 2 - 1).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, S, S) → (B,)
        return self.head(self.features(x)).flatten()


@dataclass(frozen=True)
class ClassifierReport:
    """Held-out behaviour: how often real images of each side are judged O1 (ideally 0 and 1)."""

    o1_rate_on_main: float  # false-positive rate on real O0 images
    o1_rate_on_tuning: float  # true-positive rate on real O1 images
    accuracy: float  # balanced: the mean of the two per-side accuracies
    images: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "o1_rate_on_main": self.o1_rate_on_main,
            "o1_rate_on_tuning": self.o1_rate_on_tuning,
            "balanced_accuracy": self.accuracy,
            "images": self.images,
        }


def stack_images(source: Any, indices: np.ndarray, seed: int = 0) -> torch.Tensor:
    """The source's images at ``indices`` as one ``(N, C, S, S)`` tensor (augmentation drawn from ``seed``)."""
    rng = np.random.default_rng(seed)
    return torch.stack([source.get(int(i), rng) for i in indices])


@torch.no_grad()
def predict(
    classifier: AttributeClassifier, images: torch.Tensor, batch: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """(features ``(N, 4w)``, probability of O1 ``(N,)``) for images in [0, 1], in eval mode, on the CPU."""
    classifier.eval()
    device = next(classifier.parameters()).device
    feats, probs = [], []
    for chunk in images.split(batch):
        f = classifier.features(chunk.to(device))
        feats.append(f.cpu())
        probs.append(torch.sigmoid(classifier.head(f).flatten()).cpu())
    return torch.cat(feats), torch.cat(probs)


def o1_rate(probs: torch.Tensor) -> float:
    """The share of images judged O1 (probability above ½)."""
    return float((probs > 0.5).float().mean())


def real_predictions(
    classifier: AttributeClassifier, split: AttributeSplit, limit: int, seed: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """:func:`predict` on up to ``limit`` real images of each side of ``split`` (O0 first), drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    picks = [np.sort(rng.choice(idx, size=min(limit, len(idx)), replace=False)) for idx in (split.main, split.tuning)]
    return [predict(classifier, stack_images(split.source, pick, seed)) for pick in picks]


def assess(
    classifier: AttributeClassifier, split: AttributeSplit, limit: int = 2000, seed: int = 0
) -> ClassifierReport:
    """O1 rates of the classifier on (up to ``limit`` per side of) ``split``'s real images."""
    (f0, p0), (f1, p1) = real_predictions(classifier, split, limit, seed)
    r0, r1 = o1_rate(p0), o1_rate(p1)
    return ClassifierReport(r0, r1, (1 - r0 + r1) / 2, len(f0) + len(f1))


def train_classifier(
    split: AttributeSplit,
    *,
    steps: int = 600,
    batch_size: int = 64,
    lr: float = 1e-3,
    width: int = 16,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool | None = True,
) -> AttributeClassifier:
    """Train an :class:`AttributeClassifier` on ``split`` (label 1 = ``a ≠ v``) with balanced batches.

    ``progress``: a bar over the steps (None: only when stderr is a terminal)."""
    if batch_size < 2:
        raise DynamicNetError(f"batch size must be ≥ 2 (half from each side), got {batch_size}")
    device = torch.device(device)
    torch.manual_seed(seed)
    source = split.source
    model = AttributeClassifier(source.channels, source.size, width).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    half = batch_size // 2
    labels = torch.cat([torch.zeros(half), torch.ones(batch_size - half)]).to(device)
    model.train()
    for _ in tqdm(
        range(steps),
        desc="classifier",
        unit="step",
        disable=None if progress is None else not progress,
        dynamic_ncols=True,
    ):
        idx = np.concatenate([rng.choice(split.main, half), rng.choice(split.tuning, batch_size - half)])
        x = torch.stack([source.get(int(i), rng) for i in idx]).to(device)
        loss = nn.functional.binary_cross_entropy_with_logits(model(x), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


def save_classifier(
    model: AttributeClassifier,
    folder: str | Path,
    *,
    split: AttributeSplit,
    data: str,
    report: ClassifierReport | None = None,
    provenance: dict[str, Any] | None = None,
) -> Path:
    """Write ``classifier.json`` + ``classifier.safetensors`` into ``folder`` (created if needed)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "kind": "attribute-classifier",
        "architecture": {"channels": model.channels, "image_size": model.image_size, "width": model.width},
        "data": data,
        "attribute": split.attribute,
        "value": split.value,
        "positive": f"{split.attribute} ≠ {split.value} (O1, α=1 side)",
        "held_out": report.to_dict() if report else None,
        "provenance": {**(provenance or {}), "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
    }
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(folder / WEIGHTS_NAME) as tmp:
        save_file(tensors, str(tmp), metadata={"format_version": str(FORMAT_VERSION)})
    atomic_write_text(folder / CONFIG_NAME, json.dumps(config, indent=2) + "\n")
    return folder


def load_classifier(name_or_path: str | Path) -> tuple[AttributeClassifier, dict[str, Any]]:
    """Load a classifier from a folder holding ``classifier.json`` (or a bundled model's name)."""
    folder = resolve_model(name_or_path)
    path = folder / CONFIG_NAME
    if not path.is_file():
        raise DynamicNetError(
            f"{folder}: no attribute classifier there ({CONFIG_NAME} missing); "
            "train one with 'dynamicnet train classifier'"
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        if config.get("format_version") != FORMAT_VERSION:
            raise DynamicNetError(f"{path}: unsupported format_version {config.get('format_version')!r}")
        model = AttributeClassifier(**config["architecture"])
        model.load_state_dict(load_file(str(folder / WEIGHTS_NAME)))
    except DynamicNetError:
        raise
    except (json.JSONDecodeError, KeyError, TypeError, RuntimeError, SafetensorError, OSError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise DynamicNetError(f"{folder}: invalid attribute classifier ({reason})") from None
    return model.eval(), config
