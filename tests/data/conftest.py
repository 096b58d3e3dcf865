"""Fixture images for the data tests, all generated in ``tmp_path`` (nothing is checked in)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)


def quadrant_image(w: int = 40, h: int = 20) -> Image.Image:
    """An RGB image with a red top-left, green top-right, blue bottom-left and white bottom-right quadrant.

    Distinct, saturated corners make any rotation or flip unambiguous, even after JPEG compression.
    """
    a = np.zeros((h, w, 3), np.uint8)
    a[: h // 2, : w // 2] = RED
    a[: h // 2, w // 2 :] = GREEN
    a[h // 2 :, : w // 2] = BLUE
    a[h // 2 :, w // 2 :] = 255
    return Image.fromarray(a)


def png_bytes_16bit(a: np.ndarray) -> bytes:
    """A minimal 16-bit PNG (RGB, RGBA or gray) written by hand: PIL can only *read* 16-bit colour PNGs."""
    if a.ndim == 2:
        a = a[..., None]
    h, w, c = a.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    raw = b"".join(b"\x00" + a[y].astype(">u2").tobytes() for y in range(h))  # filter type 0 per row

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` (a decompression-bomb look-alike)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


@pytest.fixture
def quadrant_png(tmp_path: Path) -> Path:
    p = tmp_path / "quadrant.png"
    quadrant_image().save(p)
    return p


@pytest.fixture
def exif_rotated_jpeg(tmp_path: Path) -> Path:
    """A 40x20 quadrant JPEG stored unrotated with EXIF orientation 6 (display rotated 90° clockwise)."""
    p = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    quadrant_image().save(p, quality=95, exif=exif.tobytes())
    return p


@pytest.fixture
def cmyk_jpeg(tmp_path: Path) -> Path:
    p = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(p, quality=95)  # pure red in CMYK
    return p


@pytest.fixture
def rgba_png(tmp_path: Path) -> Path:
    """4x4 RGBA: left half opaque red, top-right alpha 0 (RGB black), bottom-right half-transparent green."""
    a = np.zeros((4, 4, 4), np.uint8)
    a[:, :2] = (255, 0, 0, 255)
    a[:2, 2:] = (0, 0, 0, 0)
    a[2:, 2:] = (0, 255, 0, 128)
    p = tmp_path / "rgba.png"
    Image.fromarray(a, "RGBA").save(p)
    return p


@pytest.fixture
def corrupt_files(tmp_path: Path) -> dict[str, Path]:
    """Inputs that must be rejected: name -> path (a missing path and a directory included)."""
    d = tmp_path / "bad"
    d.mkdir()
    out: dict[str, Path] = {}
    out["zero_byte"] = d / "empty.jpg"
    out["zero_byte"].write_bytes(b"")
    out["text"] = d / "notes.jpg"
    out["text"].write_text("this is not an image\n")
    good = tmp_path / "good.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(good, quality=90)
    data = good.read_bytes()
    out["truncated"] = d / "truncated.jpg"
    out["truncated"].write_bytes(data[: len(data) // 2])
    out["bomb_header"] = d / "bomb.png"
    out["bomb_header"].write_bytes(png_header_claiming(100_000, 100_000))
    out["missing"] = d / "does_not_exist.png"
    out["directory"] = d / "a_folder.png"
    out["directory"].mkdir()
    return out


def make_image_tree(root: Path, n_flat: int = 3, n_nested: int = 2, size: tuple[int, int] = (48, 40)) -> list[Path]:
    """Small random JPEG/PNG files, flat and nested (COCO-style and class-folder-style); returns them."""
    rng = np.random.default_rng(1)
    paths = []
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n_flat):
        p = root / f"img_{i:03d}.jpg"
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(p)
        paths.append(p)
    for i in range(n_nested):
        sub = root / "class_b" / "deeper"
        sub.mkdir(parents=True, exist_ok=True)
        p = sub / f"nested_{i}.PNG"
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(p)
        paths.append(p)
    return paths


# Helper functions handed out as fixtures: test modules in sibling folders share the module name "conftest",
# so importing from it would be ambiguous.
@pytest.fixture
def make_quadrant():
    return quadrant_image


@pytest.fixture
def make_png16():
    return png_bytes_16bit


@pytest.fixture
def make_tree():
    return make_image_tree
