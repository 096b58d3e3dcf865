"""Registry-sourced assets: cache location, content set materialisation + manifest, style and held-out images.

Most tests point the source folders at generated fakes, so they pass whether or not scikit-image and
opencv-doc are installed; the tests on the real packages skip where those are absent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dynamicnet.data import (
    ImageFolderDataset,
    assets,
    bundled_photo,
    cache_dir,
    default_content_dir,
    held_out_photos,
    load_image,
    resolve_style_image,
    style_image_path,
)
from dynamicnet.errors import DynamicNetError

OPENCV_REAL = Path("/usr/share/doc/opencv-doc/examples/data")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "dn_home"
    monkeypatch.setenv("DYNAMICNET_HOME", str(h))
    return h


@pytest.fixture
def fake_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Fake skimage/data and opencv-doc folders holding a few of the expected file names."""
    rng = np.random.default_rng(0)
    sk = tmp_path / "fake_skimage_data"
    cv = tmp_path / "fake_opencv_data"
    sk.mkdir()
    cv.mkdir()
    for d, names in (
        (sk, ["coffee.png", "rocket.jpg", "astronaut.png"]),
        (cv, ["baboon.jpg", "fruits.jpg", "starry_night.jpg", "butterfly.jpg", "graf1.png"]),
    ):
        for n in names:
            Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(d / n)
    monkeypatch.setattr(assets.registry, "_skimage_data_dir", lambda: sk)
    monkeypatch.setattr(assets.registry, "OPENCV_DATA_DIR", cv)
    monkeypatch.setattr(assets.registry, "WALLPAPER_DIRS", (tmp_path / "no_wallpapers",))
    return {"skimage": sk, "opencv": cv}


@pytest.fixture
def no_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(assets.registry, "_skimage_data_dir", lambda: None)
    monkeypatch.setattr(assets.registry, "OPENCV_DATA_DIR", tmp_path / "absent")
    monkeypatch.setattr(assets.registry, "WALLPAPER_DIRS", (tmp_path / "absent",))


def test_cache_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DYNAMICNET_HOME", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_dir() == tmp_path / "a"
    monkeypatch.setenv("DYNAMICNET_HOME", "")
    assert cache_dir() == tmp_path / "x" / "dynamicnet"
    monkeypatch.delenv("DYNAMICNET_HOME")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert cache_dir() == tmp_path / "h" / ".cache" / "dynamicnet"


def test_default_content_dir_writes_manifest(home: Path, fake_sources: dict[str, Path]) -> None:
    out = default_content_dir()
    assert out == home / "content"
    manifest = json.loads((out / "MANIFEST.json").read_text())
    files = {e["file"]: e for e in manifest["files"]}
    assert set(files) == {
        "scikit-image__coffee.png",
        "scikit-image__rocket.jpg",
        "opencv-doc__baboon.jpg",
        "opencv-doc__fruits.jpg",
    }  # style images and held-out photos are not content
    e = files["opencv-doc__baboon.jpg"]
    assert e["source"] == "opencv-doc" and e["package"] == "opencv-doc"
    assert e["original"] == str(fake_sources["opencv"] / "baboon.jpg")
    assert "Apache-2.0" in e["licence"] and len(e["sha256"]) == 64
    assert "CC0" in files["scikit-image__coffee.png"]["licence"]
    assert manifest["sources"] == ["scikit-image", "opencv-doc"] and manifest["missing_sources"] == []
    assert (out / "opencv-doc__baboon.jpg").read_bytes() == (fake_sources["opencv"] / "baboon.jpg").read_bytes()
    assert len(ImageFolderDataset(out, 16)) == 4  # usable as a training folder (the manifest is ignored)


def test_default_content_dir_is_built_once_and_repaired(home: Path, fake_sources: dict[str, Path]) -> None:
    out = default_content_dir()
    stamp = (out / "MANIFEST.json").stat().st_mtime_ns
    os.utime(out / "MANIFEST.json", ns=(stamp - 10**9, stamp - 10**9))
    stamp = (out / "MANIFEST.json").stat().st_mtime_ns
    assert default_content_dir() == out
    assert (out / "MANIFEST.json").stat().st_mtime_ns == stamp  # reused, not rewritten
    (out / "opencv-doc__fruits.jpg").unlink()  # damaged cache -> rebuilt
    default_content_dir()
    assert (out / "opencv-doc__fruits.jpg").is_file()
    (fake_sources["opencv"] / "fruits.jpg").unlink()  # a source lost a file: refresh drops it
    default_content_dir(refresh=True)
    assert not (out / "opencv-doc__fruits.jpg").exists()
    names = [e["file"] for e in json.loads((out / "MANIFEST.json").read_text())["files"]]
    assert "opencv-doc__fruits.jpg" not in names and len(names) == 3


def test_partial_sources_and_none(home: Path, fake_sources: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(assets.registry, "_skimage_data_dir", lambda: None)
    out = default_content_dir()
    manifest = json.loads((out / "MANIFEST.json").read_text())
    assert manifest["missing_sources"] == ["scikit-image"] and len(manifest["files"]) == 2
    monkeypatch.setattr(assets.registry, "OPENCV_DATA_DIR", fake_sources["opencv"] / "gone")
    with pytest.raises(DynamicNetError, match="apt-get install opencv-doc"):
        default_content_dir(refresh=True)
    with pytest.raises(DynamicNetError, match="unknown content source"):
        default_content_dir(sources=["nope"])


def test_optional_sources_get_their_own_folder(
    home: Path, fake_sources: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tux = tmp_path / "tux"
    tux.mkdir()
    Image.new("RGB", (8, 8)).save(tux / "sheep.jpg")
    (tux / "starter.svg").write_text("<svg/>")
    monkeypatch.setattr(assets.registry, "TUXPAINT_TEMPLATES_DIR", tux)
    out = default_content_dir(sources=["opencv-doc", "tuxpaint-data"])
    assert out.name == "content-opencv-doc+tuxpaint-data"
    entries = json.loads((out / "MANIFEST.json").read_text())["files"]
    tux_entries = [e for e in entries if e["source"] == "tuxpaint-data"]
    assert [e["file"] for e in tux_entries] == ["tuxpaint-data__sheep.jpg"]
    assert tux_entries[0]["licence"].startswith("GPL-2+")


def test_wallpapers_keep_one_file_per_picture(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kde = tmp_path / "wallpapers" / "Next" / "contents" / "images"
    kde.mkdir(parents=True)
    Image.new("RGB", (64, 48), (1, 2, 3)).save(kde / "640x480.png")
    Image.effect_noise((128, 96), 50).convert("RGB").save(kde / "1280x960.png")  # the larger file
    flat = tmp_path / "backgrounds" / "mate" / "nature"
    flat.mkdir(parents=True)
    for name in ("Garden.jpg", "Storm.jpg", "LadyBird.jpg"):  # distinct pictures in one folder: all kept
        Image.effect_noise((32, 24), 40).convert("RGB").save(flat / name)
    sway = tmp_path / "backgrounds" / "sway"
    sway.mkdir()
    Image.new("RGB", (8, 8)).save(sway / "Blue_768x1024.png")
    Image.effect_noise((96, 64), 50).convert("RGB").save(sway / "Blue_1920x1080_Portrait.png")
    lxqt = tmp_path / "lxqt" / "wallpapers"
    lxqt.mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(lxqt / "fog.jpg")
    monkeypatch.setattr(
        assets.registry,
        "WALLPAPER_DIRS",
        (tmp_path / "backgrounds", tmp_path / "wallpapers", tmp_path / "lxqt" / "wallpapers"),
    )
    names = sorted(a.name for a in assets.content_assets(["wallpapers"]))
    assert names == [
        "wallpapers-lxqt__fog.jpg",
        "wallpapers__Next-contents-images-1280x960.png",
        "wallpapers__mate-nature-Garden.jpg",
        "wallpapers__mate-nature-Storm.jpg",  # LadyBird.jpg is a held-out evaluation photo
        "wallpapers__sway-Blue_1920x1080_Portrait.png",
    ]


def test_large_content_set_is_stored_downscaled(
    home: Path, fake_sources: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "backgrounds"
    big.mkdir()
    Image.effect_noise((300, 200), 40).convert("RGB").save(big / "wide.jpg")
    rgba = Image.new("RGBA", (90, 120), (10, 20, 30, 0))
    rgba.paste((200, 10, 10, 255), (20, 20, 60, 60))
    rgba.save(big / "cutout.png")
    monkeypatch.setattr(assets.registry, "WALLPAPER_DIRS", (big,))
    out = default_content_dir(sources=["opencv-doc", "wallpapers"], max_side=64)
    assert out.name == "content-opencv-doc+wallpapers-64px"
    with Image.open(out / "wallpapers__wide.jpg") as im:
        assert im.size == (64, 43) and im.format == "JPEG"
    with Image.open(out / "wallpapers__cutout.png") as im:
        assert im.size == (48, 64) and im.mode == "RGBA"  # transparency survives
    with Image.open(out / "opencv-doc__fruits.jpg") as im:
        assert im.size == (32, 24)  # small enough: copied as is
    manifest = json.loads((out / "MANIFEST.json").read_text())
    assert manifest["max_side"] == 64 and len(manifest["files"]) == 4  # opencv: baboon, fruits
    assert default_content_dir(sources=["opencv-doc", "wallpapers"], max_side=64) == out  # reused
    with pytest.raises(DynamicNetError, match="max_side must be at least 16"):
        default_content_dir(sources=["opencv-doc"], max_side=8)


def test_content_dir_names(
    home: Path, fake_sources: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("WALLPAPER_DIRS", "TUXPAINT_TEMPLATES_DIR", "PALAPELI_COLLECTION_DIR", "TUXPAINT_STAMPS_DIR"):
        monkeypatch.setattr(
            assets.registry, name, (tmp_path / "absent",) if name == "WALLPAPER_DIRS" else tmp_path / "absent"
        )
    assert assets.content_dir("default") == default_content_dir()
    assert assets.content_dir(str(tmp_path)) == tmp_path
    assert assets.content_dir("large").name.endswith(f"-{assets.content.LARGE_MAX_SIDE}px")


def test_held_out_wallpapers_are_evaluation_photos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "backgrounds"
    (root / "mate" / "nature").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(root / "mate" / "nature" / "LadyBird.jpg")
    monkeypatch.setattr(assets.registry, "WALLPAPER_DIRS", (root,))
    photos = held_out_photos()
    assert photos["ladybird"] == root / "mate" / "nature" / "LadyBird.jpg"
    assert all(a.original != photos["ladybird"] for a in assets.content_assets(["wallpapers"]))


def test_style_images(fake_sources: dict[str, Path], tmp_path: Path) -> None:
    assert style_image_path("starry_night") == fake_sources["opencv"] / "starry_night.jpg"
    assert style_image_path("graffiti") == fake_sources["opencv"] / "graf1.png"
    with pytest.raises(DynamicNetError, match="unknown style image 'monet'.*graffiti.*starry_night"):
        style_image_path("monet")
    own = tmp_path / "mine.png"
    Image.new("RGB", (4, 4)).save(own)
    assert resolve_style_image(own) == own
    assert resolve_style_image("graffiti") == fake_sources["opencv"] / "graf1.png"
    with pytest.raises(DynamicNetError, match="neither a known style image"):
        resolve_style_image(tmp_path / "missing.png")


def test_style_image_missing_package_says_what_to_install(no_sources: None) -> None:
    with pytest.raises(DynamicNetError, match="apt-get install opencv-doc"):
        style_image_path("starry_night")


def test_held_out_photos_fall_back_to_the_bundled_copy(
    no_sources: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert held_out_photos() == {"astronaut": assets.photos.PHOTOS_DIR / "astronaut.jpg"}
    monkeypatch.setattr(assets.photos, "PHOTOS_DIR", tmp_path / "nothing")
    with pytest.raises(DynamicNetError, match="no held-out photos"):
        held_out_photos()


def test_bundled_photo() -> None:
    p = bundled_photo()
    assert p.parent == assets.PHOTOS_DIR
    assert load_image(p).rgb.shape == (3, 512, 512)
    with pytest.raises(DynamicNetError, match="unknown bundled photo"):
        bundled_photo("lena")


def test_held_out_photos_from_fakes(fake_sources: dict[str, Path]) -> None:
    assert held_out_photos() == {
        "astronaut": fake_sources["skimage"] / "astronaut.png",
        "butterfly": fake_sources["opencv"] / "butterfly.jpg",
    }


# ------------------------------------------------------------------------------------ the real packages


def _real_sources_present() -> bool:
    return assets.registry._skimage_data_dir() is not None or OPENCV_REAL.is_dir()


@pytest.mark.skipif(not _real_sources_present(), reason="neither scikit-image nor opencv-doc is installed")
def test_real_content_set_loads_and_excludes_held_out_and_styles(home: Path) -> None:
    out = default_content_dir()
    manifest = json.loads((out / "MANIFEST.json").read_text())
    originals = {Path(e["original"]) for e in manifest["files"]}
    assert originals.isdisjoint(held_out_photos().values())
    styles = {s.path for s in assets.STYLE_IMAGES.values() if s.path is not None}
    assert originals.isdisjoint(styles)
    for e in manifest["files"]:
        rgb = load_image(out / e["file"]).rgb
        assert rgb.shape[0] == 3 and min(rgb.shape[1:]) >= 256, e["file"]  # photos, big enough to crop
    if assets.registry._skimage_data_dir() is not None and OPENCV_REAL.is_dir():
        assert len(manifest["files"]) == 20


@pytest.mark.skipif(not OPENCV_REAL.is_dir(), reason="opencv-doc is not installed")
def test_real_style_images_load() -> None:
    for name in assets.STYLE_IMAGES:
        rgb = load_image(style_image_path(name)).rgb
        assert rgb.shape[0] == 3 and min(rgb.shape[1:]) >= 512
