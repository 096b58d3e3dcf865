"""Animations: GIF, WebP and MP4 frames as written, and bad input refused before anything is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dynamicnet.data import save_animation, save_gif
from dynamicnet.errors import DynamicNetError


def _frames(n: int = 4, h: int = 12, w: int = 10) -> list[torch.Tensor]:
    return [torch.full((3, h, w), i / max(1, n - 1)) for i in range(n)]


def test_gif_written_with_all_frames(tmp_path: Path) -> None:
    p = save_gif(_frames(), tmp_path / "walk.gif", duration_ms=80)
    with Image.open(p) as im:
        assert im.format == "GIF" and im.n_frames == 4 and im.size == (10, 12)
        assert im.info.get("duration") == 80
        im.seek(3)
        assert np.asarray(im.convert("RGB")).min() > 240  # last frame is white


def test_animated_webp(tmp_path: Path) -> None:
    p = save_animation(_frames(3), tmp_path / "walk.webp", duration_ms=120)
    with Image.open(p) as im:
        assert im.format == "WEBP" and getattr(im, "n_frames", 1) == 3


def test_mp4_with_odd_size(tmp_path: Path) -> None:
    p = save_animation(_frames(3, h=9, w=11), tmp_path / "walk.mp4", duration_ms=100)
    assert p.stat().st_size > 0
    assert [q.name for q in tmp_path.iterdir()] == ["walk.mp4"]


def test_animation_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(DynamicNetError, match="same size"):
        save_animation([torch.zeros(3, 4, 4), torch.zeros(3, 5, 4)], tmp_path / "x.gif")
    with pytest.raises(DynamicNetError, match="no frames"):
        save_animation([], tmp_path / "x.gif")
    with pytest.raises(DynamicNetError, match="unsupported"):
        save_animation(_frames(), tmp_path / "x.avi")
    assert list(tmp_path.iterdir()) == []
