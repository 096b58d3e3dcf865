"""Image IO: the odd-but-valid inputs real photos come in, the bad ones users hand us, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from dynamicnet.data import LoadedImage, decode_image, load_image, save_image
from dynamicnet.errors import DynamicNetError

# ------------------------------------------------------------------------------------------- valid inputs


def test_plain_png_loads_as_float_rgb(quadrant_png: Path) -> None:
    img = load_image(quadrant_png)
    assert isinstance(img, LoadedImage)
    rgb, alpha = img  # unpacks like a tuple
    assert rgb.shape == (3, 20, 40) and rgb.dtype == torch.float32
    assert alpha is None
    assert torch.equal(rgb[:, 0, 0], torch.tensor([1.0, 0.0, 0.0]))
    assert torch.equal(rgb[:, -1, -1], torch.tensor([1.0, 1.0, 1.0]))


def test_exif_rotated_jpeg_is_displayed_upright(exif_rotated_jpeg: Path) -> None:
    rgb = load_image(exif_rotated_jpeg).rgb
    # stored 40 wide x 20 high; orientation 6 = rotate 90° clockwise for display
    assert rgb.shape == (3, 40, 20)
    top_right = rgb[:, 3, -3]
    top_left = rgb[:, 3, 3]
    assert torch.allclose(top_right, torch.tensor([1.0, 0.0, 0.0]), atol=0.1)  # red corner moved here
    assert torch.allclose(top_left, torch.tensor([0.0, 0.0, 1.0]), atol=0.1)  # blue (was bottom-left)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pil(tmp_path: Path, make_quadrant, orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    p = tmp_path / f"o{orientation}.png"
    make_quadrant(7, 5).save(p, exif=exif.tobytes())  # lossless, odd sizes: off-by-one errors would show
    expected = np.asarray(ImageOps.exif_transpose(Image.open(p)).convert("RGB"), dtype=np.float32) / 255
    got = load_image(p).rgb.permute(1, 2, 0).numpy()
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_cmyk_jpeg_becomes_rgb(cmyk_jpeg: Path) -> None:
    with Image.open(cmyk_jpeg) as im:
        assert im.mode == "CMYK"
    rgb = load_image(cmyk_jpeg).rgb
    assert rgb.shape == (3, 16, 16)
    assert torch.allclose(rgb.mean(dim=(1, 2)), torch.tensor([1.0, 0.0, 0.0]), atol=0.08)


def test_16bit_gray_png_keeps_precision(tmp_path: Path) -> None:
    values = np.array([[1000, 1001, 1002, 65535]], dtype=np.uint16)
    p = tmp_path / "g16.png"
    Image.fromarray(values).save(p)
    rgb = load_image(p).rgb
    assert rgb.shape == (3, 1, 4)
    np.testing.assert_allclose(rgb[0, 0].numpy() * 65535, values[0], atol=0.01)
    assert len(torch.unique(rgb[0, 0])) == 4  # 1000/1001/1002 would collapse at 8 bits
    assert torch.equal(rgb[0], rgb[1]) and torch.equal(rgb[1], rgb[2])


@pytest.mark.parametrize("channels", [3, 4])
def test_16bit_colour_png_keeps_precision(tmp_path: Path, make_png16, channels: int) -> None:
    a = (np.arange(3 * 5 * channels).reshape(3, 5, channels) * 997 + 3).astype(np.uint16)
    if channels == 4:
        a[..., 3] = 65535 - np.arange(15).reshape(3, 5).astype(np.uint16)  # all nearly but not quite opaque
    p = tmp_path / "c16.png"
    p.write_bytes(make_png16(a))
    img = load_image(p)
    np.testing.assert_allclose(img.rgb.permute(1, 2, 0).numpy() * 65535, a[..., :3], atol=0.02)
    if channels == 4:
        assert img.alpha is not None
        np.testing.assert_allclose(img.alpha[0].numpy() * 65535, a[..., 3], atol=0.02)


def test_16bit_gray_tiff_keeps_precision(tmp_path: Path) -> None:
    values = np.array([[0, 1, 2, 40000]], dtype=np.uint16)
    p = tmp_path / "g16.tif"
    Image.fromarray(values).save(p)
    np.testing.assert_allclose(load_image(p).rgb[0, 0].numpy() * 65535, values[0], atol=0.01)


def test_16bit_colour_tiff_keeps_precision(tmp_path: Path) -> None:
    tifffile = pytest.importorskip("tifffile")
    a = (np.arange(2 * 3 * 3).reshape(2, 3, 3) * 2001 + 1).astype(np.uint16)
    p = tmp_path / "c16.tif"
    tifffile.imwrite(p, a, photometric="rgb")
    np.testing.assert_allclose(load_image(p).rgb.permute(1, 2, 0).numpy() * 65535, a, atol=0.02)


def test_rgba_alpha_is_returned_and_transparent_rgb_is_white(rgba_png: Path) -> None:
    rgb, alpha = load_image(rgba_png)
    assert alpha is not None and alpha.shape == (1, 4, 4)
    assert torch.all(alpha[0, :, :2] == 1.0)
    assert torch.all(alpha[0, :2, 2:] == 0.0)
    assert torch.allclose(alpha[0, 2:, 2:], torch.tensor(128 / 255))
    assert torch.all(rgb[:, :2, 2:] == 1.0)  # fully transparent: undefined RGB -> white
    assert torch.allclose(rgb[:, 3, 3], torch.tensor([0.0, 1.0, 0.0]))  # half transparent keeps its colour
    assert torch.allclose(rgb[:, 0, 0], torch.tensor([1.0, 0.0, 0.0]))


def test_broken_icc_profile_does_not_reject_the_photo(tmp_path: Path, make_quadrant) -> None:
    p = tmp_path / "icc.jpg"
    make_quadrant().save(p, quality=95, icc_profile=b"definitely not an ICC profile")
    rgb = load_image(p).rgb
    assert torch.allclose(rgb[:, 3, 3], torch.tensor([1.0, 0.0, 0.0]), atol=0.1)


def test_srgb_icc_profile_is_a_no_op(tmp_path: Path, make_quadrant) -> None:
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    p, q = tmp_path / "tagged.png", tmp_path / "untagged.png"
    make_quadrant().save(p, icc_profile=srgb)
    make_quadrant().save(q)
    assert torch.equal(load_image(p).rgb, load_image(q).rgb)


def test_opaque_rgba_reports_no_alpha(tmp_path: Path) -> None:
    p = tmp_path / "opaque.png"
    Image.new("RGBA", (3, 3), (10, 20, 30, 255)).save(p)
    assert load_image(p).alpha is None


def test_la_png_alpha(tmp_path: Path) -> None:
    p = tmp_path / "la.png"
    Image.new("LA", (2, 2), (100, 50)).save(p)
    rgb, alpha = load_image(p)
    assert alpha is not None and torch.allclose(alpha, torch.full((1, 2, 2), 50 / 255))
    assert torch.allclose(rgb, torch.full((3, 2, 2), 100 / 255))


def test_palette_and_grayscale(tmp_path: Path, make_quadrant) -> None:
    p_pal = tmp_path / "pal.png"
    make_quadrant().quantize(colors=4).save(p_pal)
    with Image.open(p_pal) as im:
        assert im.mode == "P"
    rgb = load_image(p_pal).rgb
    assert torch.allclose(rgb[:, 0, 0], torch.tensor([1.0, 0.0, 0.0]), atol=0.02)

    p_tr = tmp_path / "pal_transparent.png"
    im = Image.new("P", (2, 1))
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    im.putpixel((1, 0), 1)
    im.save(p_tr, transparency=1)
    rgb, alpha = load_image(p_tr)
    assert alpha is not None and alpha[0, 0].tolist() == [1.0, 0.0]

    p_gray = tmp_path / "gray.jpg"
    Image.new("L", (5, 4), 77).save(p_gray, quality=100)
    rgb = load_image(p_gray).rgb
    assert rgb.shape == (3, 4, 5) and torch.equal(rgb[0], rgb[2])
    assert abs(rgb.mean().item() - 77 / 255) < 0.01

    p_bw = tmp_path / "bw.png"
    Image.new("1", (3, 3), 1).save(p_bw)
    assert torch.all(load_image(p_bw).rgb == 1.0)


def test_animated_gif_uses_first_frame(tmp_path: Path) -> None:
    p = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (4, 4), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=50)
    assert torch.allclose(load_image(p).rgb[:, 0, 0], torch.tensor([1.0, 0.0, 0.0]), atol=0.01)


def test_decode_image_from_bytes(quadrant_png: Path) -> None:
    assert torch.equal(decode_image(quadrant_png.read_bytes()).rgb, load_image(quadrant_png).rgb)
    with pytest.raises(DynamicNetError, match="upload.png"):
        decode_image(b"nope", name="upload.png")


# --------------------------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    ("kind", "pattern"),
    [
        ("zero_byte", "empty"),
        ("text", "not an image"),
        ("truncated", "truncated or corrupt"),
        ("bomb_header", "pixels|large"),
        ("missing", "no such file"),
        ("directory", "directory"),
    ],
)
def test_bad_inputs_raise_one_line_error_naming_the_file(
    corrupt_files: dict[str, Path], kind: str, pattern: str
) -> None:
    path = corrupt_files[kind]
    with pytest.raises(DynamicNetError, match=pattern) as info:
        load_image(path)
    msg = str(info.value)
    assert str(path) in msg
    assert "\n" not in msg


def test_max_pixels_checked_before_decoding(tmp_path: Path) -> None:
    p = tmp_path / "big.png"
    Image.new("RGB", (300, 200)).save(p)
    with pytest.raises(DynamicNetError, match="60,000 pixels, more than the limit of 50,000"):
        load_image(p, max_pixels=50_000)
    assert load_image(p, max_pixels=60_000).rgb.shape == (3, 200, 300)


def test_header_beyond_pils_own_bomb_limit_is_a_clean_error(corrupt_files: dict[str, Path]) -> None:
    # Even when the caller raises our limit, PIL's hard limit (2 x MAX_IMAGE_PIXELS) still stops a
    # 100000 x 100000 header; that must surface as our one-line error, not PIL's exception.
    with pytest.raises(DynamicNetError, match="decompression bomb") as info:
        load_image(corrupt_files["bomb_header"], max_pixels=10**12)
    assert str(corrupt_files["bomb_header"]) in str(info.value)


# ------------------------------------------------------------------------------------------------- saving


@pytest.mark.parametrize(("ext", "tol"), [(".png", 0), (".bmp", 0), (".tif", 0), (".jpg", 0.02), (".webp", 0.02)])
def test_save_round_trip(tmp_path: Path, ext: str, tol: float) -> None:
    # a smooth image (lossy codecs are judged on photos, not on noise), exactly representable at 8 bits
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 16), torch.linspace(0, 1, 24), indexing="ij")
    x = torch.stack([yy, xx, (yy + xx) / 2])
    x = (x * 255).round() / 255
    p = save_image(x, tmp_path / f"out{ext}")
    assert p == tmp_path / f"out{ext}"
    y = load_image(p).rgb
    assert y.shape == x.shape
    if tol == 0:
        assert torch.equal(y, x)
    else:
        assert (y - x).abs().mean() < tol


def test_save_clamps_rounds_and_leaves_input_untouched(tmp_path: Path) -> None:
    x = torch.tensor([[[-0.5, 0.2 / 255, 0.6 / 255, 1.7, float("nan")]]]).repeat(3, 1, 1)  # (3, 1, 5)
    before = x.clone()
    save_image(x, tmp_path / "c.png")
    assert torch.equal(x.isnan(), before.isnan()) and torch.equal(x.nan_to_num(), before.nan_to_num())
    got = np.asarray(Image.open(tmp_path / "c.png"))[0, :, 0].tolist()
    assert got == [0, 0, 1, 255, 0]


def test_save_accepts_arrays_pil_and_batch(tmp_path: Path) -> None:
    arr = np.full((4, 5, 3), 200, np.uint8)
    save_image(arr, tmp_path / "a.png")
    save_image(Image.fromarray(arr), tmp_path / "b.png")
    save_image(torch.full((1, 3, 4, 5), 200 / 255), tmp_path / "c.png")
    save_image(np.full((4, 5), 0.5, np.float32), tmp_path / "d.png")
    for n in "abc":
        assert np.asarray(Image.open(tmp_path / f"{n}.png")).tolist() == arr.tolist()
    with pytest.raises(DynamicNetError, match="shape"):
        save_image(torch.zeros(2, 4, 4), tmp_path / "e.png")


def test_alpha_reattached_where_the_format_supports_it(tmp_path: Path, rgba_png: Path) -> None:
    rgb, alpha = load_image(rgba_png)
    for ext in (".png", ".webp", ".tif"):
        out = save_image(rgb, tmp_path / f"a{ext}", alpha=alpha)
        back = load_image(out)
        assert back.alpha is not None, ext
        assert torch.allclose(back.alpha, alpha, atol=0.02 if ext == ".webp" else 0)
    with Image.open(save_image(rgb, tmp_path / "a.jpg", alpha=alpha)) as im:
        assert im.mode == "RGB"


def test_unknown_extension_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(DynamicNetError, match="unsupported output extension"):
        save_image(torch.zeros(3, 4, 4), tmp_path / "out.xyz")
    with pytest.raises(DynamicNetError, match="unsupported output extension"):
        save_image(torch.zeros(3, 4, 4), tmp_path / "no_extension")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_no_partial_or_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"previous result")

    def broken_save(self, fp, format=None, **kwargs):
        Path(fp).write_bytes(b"\x89PNG partial")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_image(torch.zeros(3, 4, 4), target)
    assert target.read_bytes() == b"previous result"  # old file untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]  # no temporary left behind

    fresh = tmp_path / "new.png"
    with pytest.raises(OSError, match="disk full"):
        save_image(torch.zeros(3, 4, 4), fresh)
    assert not fresh.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]
