import io
import json
import os

import numpy as np
import pytest
import torch
from cli_utils import run_cli
from PIL import Image

from dynamicnet.apps.style.pipeline import StylePipeline
from dynamicnet.apps.style.recipe import builtin_recipes
from dynamicnet.data.io import load_image


def _photo(h=37, w=50, seed=0):
    return (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)


@pytest.fixture
def images(tmp_path):
    """Well-formed odd inputs (to be handled) and broken ones (to be rejected)."""
    d = tmp_path / "in"
    d.mkdir()
    rgb = _photo()
    Image.fromarray(rgb).save(d / "plain.png")
    Image.fromarray(rgb).convert("CMYK").save(d / "cmyk.jpg")
    Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(d / "gray16.png")
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(d / "alpha.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    Image.fromarray(rgb).save(d / "exif.jpg", exif=exif)
    (d / "empty.jpg").write_bytes(b"")
    (d / "text.png").write_text("not an image at all")
    buf = io.BytesIO()
    Image.fromarray(_photo(64, 64)).save(buf, "JPEG")
    (d / "truncated.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    return d


@pytest.mark.parametrize("name", ["plain.png", "cmyk.jpg", "gray16.png", "alpha.png", "exif.jpg"])
def test_well_formed_odd_inputs_are_stylized_at_their_size(capsys, tiny_style_model, images, tmp_path, name):
    out = tmp_path / "out.png"
    code, _, err = run_cli(
        capsys, "stylize", images / name, "--model", tiny_style_model, "--alpha", "0.5", "-o", out, "--device", "cpu"
    )
    assert code == 0, err
    src = load_image(images / name)
    res = load_image(out)
    assert res.rgb.shape == src.rgb.shape  # EXIF rotation applied: 50×37 comes out as 37 wide
    if name == "exif.jpg":
        assert res.rgb.shape[1:] == (50, 37)
    if name == "alpha.png":
        assert res.alpha is not None and torch.allclose(res.alpha, src.alpha, atol=1 / 255)
    expected = StylePipeline.from_pretrained(tiny_style_model)(src.rgb, alpha=0.5)
    assert (res.rgb - expected).abs().max() <= 1 / 255 + 1e-6


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty.jpg", "empty"),
        ("text.png", ""),
        ("truncated.jpg", ""),
        ("missing.png", ""),
    ],
)
def test_bad_inputs_fail_with_one_line_and_no_output(capsys, tiny_style_model, images, tmp_path, name, message):
    out = tmp_path / "out.png"
    code, _, err = run_cli(capsys, "stylize", images / name, "--model", tiny_style_model, "-o", out)
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err and name in err and message in err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_decompression_bomb_is_rejected(capsys, tiny_style_model, tmp_path):
    bomb = tmp_path / "bomb.png"
    Image.new("L", (9000, 9000)).save(bomb, optimize=True)  # 81 MP of zeros: tiny file, huge image
    code, _, err = run_cli(capsys, "stylize", bomb, "--model", tiny_style_model, "-o", tmp_path / "o.png")
    assert code == 1 and "bomb.png" in err and err.count("\n") == 1
    assert not (tmp_path / "o.png").exists()


def test_alpha_not_a_number_is_a_usage_error(capsys, tiny_style_model, images, tmp_path):
    code, _, err = run_cli(
        capsys,
        "stylize",
        images / "plain.png",
        "--model",
        tiny_style_model,
        "--alpha",
        "lots",
        "-o",
        tmp_path / "o.png",
    )
    assert code == 2 and "not a number" in err and err.count("\n") == 1


def test_block_alphas_and_multiple_inputs_to_a_folder(capsys, tiny_style_model, images, tmp_path):
    outdir = tmp_path / "outs"
    code, out, err = run_cli(
        capsys,
        "stylize",
        images / "plain.png",
        images / "cmyk.jpg",
        "--model",
        tiny_style_model,
        "--block-alphas",
        "0,1,0",
        "-o",
        outdir,
    )
    assert code == 0, err
    assert sorted(p.name for p in outdir.iterdir()) == ["cmyk.png", "plain.png"]
    pipe = StylePipeline.from_pretrained(tiny_style_model)
    expected = pipe(load_image(images / "plain.png").rgb, alpha=[0, 1, 0])
    assert (load_image(outdir / "plain.png").rgb - expected).abs().max() <= 1 / 255 + 1e-6
    code, _, err = run_cli(
        capsys, "stylize", images / "plain.png", "--model", tiny_style_model, "--block-alphas", "0,1", "-o", outdir
    )
    assert code == 1 and "3 blocks" in err


def test_sweep_writes_sheet_and_animation(capsys, tiny_style_model, images, tmp_path):
    sheet, gif = tmp_path / "sheet.png", tmp_path / "walk.gif"
    code, out, err = run_cli(
        capsys,
        "sweep",
        images / "plain.png",
        "--model",
        tiny_style_model,
        "--alphas",
        "0,0.5,1",
        "-o",
        sheet,
        "--gif",
        gif,
        "--frames",
        "3",
    )
    assert code == 0, err
    assert load_image(sheet).rgb.shape[2] > 3 * 37
    with Image.open(gif) as im:
        assert im.n_frames == 4  # 3 frames there, 1 back


def test_unknown_model_is_a_clear_error(capsys, images, tmp_path):
    code, _, err = run_cli(
        capsys, "stylize", images / "plain.png", "--model", "no-such-model", "-o", tmp_path / "o.png"
    )
    assert code == 1 and "no-such-model" in err and "bundled" in err


def test_train_style_missing_style_image(capsys, tmp_path):
    code, _, err = run_cli(
        capsys,
        "train",
        "style",
        "--dry-run",
        "--style",
        tmp_path / "nope.jpg",
        "--out",
        tmp_path / "m",
        "--vgg-weights",
        "random",
        "--no-progress",
    )
    assert code == 1 and "nope.jpg" in err and err.count("\n") == 1
    assert not (tmp_path / "m" / "model.safetensors").exists()


def test_work_side_option(capsys, tiny_style_model, tmp_path):
    Image.fromarray(_photo(60, 90)).save(tmp_path / "p.png")
    outs = {}
    for side in ("32", "0"):
        out = tmp_path / f"w{side}.png"
        code, _, _ = run_cli(
            capsys, "stylize", tmp_path / "p.png", "--model", tiny_style_model, "--work-side", side, "-o", out
        )
        assert code == 0
        outs[side] = load_image(out).rgb
        assert outs[side].shape == (3, 60, 90)  # the output keeps the input's size either way
    pipe = StylePipeline.from_pretrained(tiny_style_model)
    expected = pipe(load_image(tmp_path / "p.png").rgb, alpha=1.0, work_side=32)
    assert (outs["32"] - expected).abs().max() <= 1 / 255 + 1e-6
    assert not torch.allclose(outs["32"], outs["0"], atol=0.05)
    for bad, message in (("-1", "must be ≥ 0"), ("8", "at least 16"), ("big", "whole number")):
        code, _, err = run_cli(
            capsys,
            "stylize",
            tmp_path / "p.png",
            "--model",
            tiny_style_model,
            "--work-side",
            bad,
            "-o",
            tmp_path / "bad.png",
        )
        assert code == 2 and message in err and not (tmp_path / "bad.png").exists()


def _train_dry_run(capsys, out, *flags):
    """``train style --dry-run`` with random VGG16 weights (one real step per phase): (code, stdout, stderr)."""
    return run_cli(
        capsys, "train", "style", "--dry-run", *flags, "--out", out, "--vgg-weights", "random", "--no-progress"
    )


@pytest.mark.parametrize("value", ["0.5", "0.5,0.2", "0,1", "0.1,1.5", "a,b"])
def test_train_crop_scale_is_validated(capsys, tmp_path, value):
    code, _, err = _train_dry_run(capsys, tmp_path / "m", "--crop-scale", value)
    assert code == 2 and "--crop-scale" in err


@pytest.mark.slow
@pytest.mark.parametrize(("value", "kwargs"), [("4", {"width": 4}), ("4,6,10", {"width": [4, 6, 10]})])
def test_train_width_sets_theta_s_channels(capsys, tmp_path, value, kwargs):
    code, _, err = _train_dry_run(capsys, tmp_path / "m", "--phase", "main", "--width", value)
    assert code == 0, err
    assert json.loads((tmp_path / "m" / "config.json").read_text())["architecture"]["kwargs"] == kwargs


@pytest.mark.slow
@pytest.mark.parametrize("flags", [[], ["--tuning-style-weight", "1e5", "--style-size", "300"]])
def test_the_model_s_description_says_which_objectives_flags_changed(capsys, tmp_path, flags):
    code, _, err = _train_dry_run(capsys, tmp_path / "m", *flags)
    assert code == 0, err
    description = json.loads((tmp_path / "m" / "config.json").read_text())["extra"]["description"]
    recipe = builtin_recipes()["level"].description
    if flags:
        assert description == f"{recipe} (changed by flags: main style_size 300, higher style_weight 100000)"
    else:
        assert description == recipe


@pytest.mark.parametrize("value", ["8,16", "8,0,48", "0", "8,16,x"])
def test_train_width_is_validated(capsys, tmp_path, value):
    code, _, err = run_cli(
        capsys, "train", "style", "--dry-run", "--width", value, "--out", tmp_path / "m", "--no-progress"
    )
    assert code == 2 and "--width" in err and err.count("\n") <= 2
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("out", ["same-folder", ".", ""])
def test_stylize_never_overwrites_its_input(capsys, tiny_style_model, tmp_path, monkeypatch, out):
    # `stylize p/a.png -o p/` used to replace the photo with its stylised copy (exit 0)
    photo = tmp_path / "a.png"
    Image.fromarray(_photo()).save(photo)
    before = photo.read_bytes()
    monkeypatch.chdir(tmp_path)
    target = tmp_path if out == "same-folder" else out
    code, _, err = run_cli(
        capsys, "stylize", photo if out == "same-folder" else "a.png", "--model", tiny_style_model, "-o", target
    )
    assert code == 1 and "over the input" in err and err.count("\n") == 1
    assert photo.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]
    code, _, err = run_cli(capsys, "stylize", photo, "--model", tiny_style_model, "-o", photo)
    assert code == 1 and "would be overwritten" in err and photo.read_bytes() == before


def test_stylize_batch_names_never_collide(capsys, tiny_style_model, tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    for path in (tmp_path / "x" / "a.jpg", tmp_path / "x" / "a.png", tmp_path / "y" / "a.png"):
        Image.fromarray(_photo()).save(path)
    code, out, _ = run_cli(
        capsys,
        "stylize",
        tmp_path / "x" / "a.jpg",
        tmp_path / "x" / "a.png",
        tmp_path / "y" / "a.png",
        "--model",
        tiny_style_model,
        "-o",
        tmp_path / "o",
    )
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["a-2.png", "a-3.png", "a.png"]
    assert out.split() == [str(tmp_path / "o" / n) for n in ("a.png", "a-2.png", "a-3.png")]


@pytest.mark.parametrize("name", ["r.xyz", "r.gif", "r.avi"])
def test_stylize_refuses_unknown_extensions_up_front(capsys, tiny_style_model, images, tmp_path, name):
    code, _, err = run_cli(
        capsys, "stylize", images / "plain.png", "--model", tiny_style_model, "-o", tmp_path / "out" / name
    )
    assert code == 1 and "unsupported extension" in err and not (tmp_path / "out").exists()


def test_failed_batch_leaves_nothing(capsys, tiny_style_model, images, tmp_path):
    out = tmp_path / "new"
    code, _, err = run_cli(
        capsys, "stylize", images / "plain.png", images / "truncated.jpg", "--model", tiny_style_model, "-o", out
    )
    assert code == 1 and "truncated.jpg" in err
    assert not out.exists()  # not even the folder it would have created
    existing = tmp_path / "existing"
    existing.mkdir()
    code, _, _ = run_cli(
        capsys, "stylize", images / "plain.png", images / "truncated.jpg", "--model", tiny_style_model, "-o", existing
    )
    assert code == 1 and list(existing.iterdir()) == []


def test_sweep_checks_every_output_before_working(capsys, tiny_style_model, images, tmp_path):
    sheet = tmp_path / "s.png"
    code, _, err = run_cli(
        capsys, "sweep", images / "plain.png", "--model", tiny_style_model, "-o", sheet, "--gif", tmp_path / "w.avi"
    )
    assert code == 1 and "--gif" in err and "unsupported extension" in err and not sheet.exists()
    # an empty --gif is a mistake, refused as in generate, not a sheet without its animation
    code, _, err = run_cli(capsys, "sweep", images / "plain.png", "--model", tiny_style_model, "-o", sheet, "--gif", "")
    assert code == 1 and "--gif" in err and "unsupported extension" in err and not sheet.exists()
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if not os.access(locked, os.W_OK):  # root can write anywhere: then only the other checks run
            code, _, err = run_cli(
                capsys,
                "sweep",
                images / "plain.png",
                "--model",
                tiny_style_model,
                "-o",
                sheet,
                "--gif",
                locked / "w.gif",
            )
            assert code == 1 and "not writable" in err and not sheet.exists()
    finally:
        locked.chmod(0o700)
    code, _, err = run_cli(
        capsys, "sweep", images / "plain.png", "--model", tiny_style_model, "-o", images / "plain.png"
    )
    assert code == 1 and "would be overwritten" in err


@pytest.mark.parametrize("alpha", ["1e308", "-3", "2.5"])
def test_absurd_alpha_is_refused_before_any_work(capsys, tiny_style_model, images, tmp_path, alpha):
    # the tiny model is trained for α ∈ [0, 1]: usable up to one range width beyond, i.e. [−1, 2]
    code, _, err = run_cli(
        capsys,
        "stylize",
        images / "plain.png",
        "--model",
        tiny_style_model,
        f"--alpha={alpha}",
        "-o",
        tmp_path / "o.png",
    )
    assert code == 1 and "usable range [-1, 2]" in err and err.count("\n") == 1
    assert not (tmp_path / "o.png").exists()
    code, _, err = run_cli(
        capsys,
        "sweep",
        images / "plain.png",
        "--model",
        tiny_style_model,
        f"--alphas=0,{alpha}",
        "-o",
        tmp_path / "s.png",
    )
    assert code == 1 and "usable range" in err and not (tmp_path / "s.png").exists()


def test_extrapolation_within_the_margin_works(capsys, tiny_style_model, images, tmp_path):
    code, _, err = run_cli(
        capsys, "stylize", images / "plain.png", "--model", tiny_style_model, "--alpha=1.5", "-o", tmp_path / "o.png"
    )
    assert code == 0, err


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["train", "style", "--size", "1"], "--size"),
        (["train", "style", "--size", "130"], "--size"),
        (["train", "style", "--style-weight", "-1"], "--style-weight"),
        (["train", "style", "--content-weight", "nan"], "--content-weight"),
        (["train", "style", "--seed", "-5"], "--seed"),
        (["train", "style", "--seed", str(10**30)], "--seed"),
        (["train", "completion", "--adv-weight", "nan"], "--adv-weight"),
        (["train", "dcgan", "--seed", "-1"], "--seed"),
        (["generate", "--seed", "99999999999999999999", "-o", "x.png"], "--seed"),
        (["stylize", "x.png", "--alpha", "1_0", "-o", "y.png"], "--alpha"),
    ],
)
def test_numeric_options_are_checked_at_parse_time_by_name(capsys, tmp_path, args, option):
    if args[0] == "train":
        args = [*args, "--out", str(tmp_path / "m"), "--dry-run"]
    code, _, err = run_cli(capsys, *args)
    assert code == 2 and option in err and err.count("\n") == 1
    assert not (tmp_path / "m").exists()


def test_empty_keyframes_are_an_error_not_alpha_one(capsys, tiny_style_model, tmp_path):
    code, _, err = run_cli(
        capsys,
        "stylize-video",
        "in.avi",
        "--model",
        tiny_style_model,
        "--alpha-keyframes",
        "",
        "-o",
        tmp_path / "o.mp4",
    )
    assert code == 1 and "--alpha-keyframes" in err


def test_huge_network_inputs_are_refused_with_the_option_that_helps(capsys, tiny_style_model, tmp_path, monkeypatch):
    from dynamicnet.data import geometry

    monkeypatch.setattr(geometry, "MAX_NETWORK_PIXELS", 2000)  # stands in for 16 MP: a 60×90 photo is "too big"
    Image.fromarray(_photo(60, 90)).save(tmp_path / "p.png")
    code, _, err = run_cli(
        capsys, "stylize", tmp_path / "p.png", "--model", tiny_style_model, "--work-side", "0", "-o", tmp_path / "o.png"
    )
    assert code == 1 and "--work-side" in err and "MP" in err and not (tmp_path / "o.png").exists()
    code, _, err = run_cli(
        capsys,
        "stylize",
        tmp_path / "p.png",
        "--model",
        tiny_style_model,
        "--work-side",
        "32",
        "-o",
        tmp_path / "o.png",
    )
    assert code == 0 and load_image(tmp_path / "o.png").rgb.shape == (3, 60, 90)  # run small, upscaled


@pytest.mark.slow  # a fresh interpreter
def test_damaged_tiff_is_one_line_without_pillow_warnings(tmp_path, tiny_style_model):
    import subprocess
    import sys

    buf = io.BytesIO()
    Image.fromarray(_photo(64, 64)).save(buf, "TIFF", compression="tiff_deflate")
    (tmp_path / "t.tif").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dynamicnet",
            "stylize",
            str(tmp_path / "t.tif"),
            "--model",
            str(tiny_style_model),
            "-o",
            str(tmp_path / "o.png"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "t.tif" in proc.stderr, proc.stderr


@pytest.mark.slow  # a fresh interpreter
def test_non_utf8_file_names_under_a_strict_utf8_stdout(tmp_path, tiny_style_model):
    import subprocess
    import sys

    name = os.fsdecode(b"caf\xe9.png")  # Latin-1 bytes: not valid UTF-8
    Image.fromarray(_photo()).save(tmp_path / name)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict", "LC_ALL": "C.UTF-8"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dynamicnet",
            "stylize",
            os.fsencode(tmp_path / name),
            "--model",
            str(tiny_style_model),
            "-o",
            str(out),
        ],
        capture_output=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == os.fsencode(out / os.fsdecode(b"caf\xe9.png")) + b"\n"  # the name as it is on disk
    assert (out / name).is_file()


def test_os_errors_name_the_users_file_not_a_temporary(tmp_path):
    from dynamicnet.utils.fs import atomic_path

    target = tmp_path / "result.png"
    with pytest.raises(OSError, match="No space left") as info, atomic_path(target) as tmp:
        raise OSError(28, "No space left on device", str(tmp))
    assert info.value.filename == str(target) and ".tmp" not in str(info.value)


@pytest.mark.slow
def test_progress_bars_show_on_request_and_stay_off_in_pipes(capsys, tiny_style_model, tmp_path):
    pipe = StylePipeline.from_pretrained(tiny_style_model)
    image = torch.rand(3, 40, 40)
    pipe.sweep(image, [0.0, 0.5, 1.0], progress=True)  # the Python API: forced on
    assert "α" in capsys.readouterr().err
    pipe.sweep(image, [0.0, 1.0])  # the API's default: quiet
    assert capsys.readouterr().err == ""
    Image.fromarray(_photo()).save(tmp_path / "p.png")
    # stderr is not a terminal here: the command line's automatic bar stays off, as with --no-progress
    for extra in ([], ["--no-progress"]):
        code, _, err = run_cli(
            capsys,
            "sweep",
            tmp_path / "p.png",
            "--model",
            tiny_style_model,
            "-o",
            tmp_path / "s.png",
            "--gif",
            tmp_path / "w.gif",
            "--frames",
            "3",
            *extra,
        )
        assert code == 0 and err == ""


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:VGG16 has random weights")
def test_evaluate_style_writes_json_and_its_plot_beside_it(capsys, images, tmp_path):
    import json

    report = tmp_path / "r" / "losses.json"
    code, out, err = run_cli(
        capsys,
        "evaluate-style",
        "--model",
        "starry-fast",
        "--photos",
        images / "plain.png",
        "--size",
        "32",
        "--alphas",
        "0,0.5,1",
        "--vgg-weights",
        "random",
        "-o",
        report,
    )
    assert code == 0, err
    data = json.loads(report.read_text())
    assert [p["alpha"] for p in data["curve"]] == [0.0, 0.5, 1.0] and data["objective"] == "higher"
    assert out.endswith(f"{report}\n{report.with_suffix('.png')}\n")
    with Image.open(report.with_suffix(".png")) as plot:  # style and content loss, each on its own axes
        assert plot.format == "PNG" and plot.width > 2 * 400


def test_evaluate_style_checks_its_output_before_the_work(capsys, images, tmp_path):
    code, _, err = run_cli(capsys, "evaluate-style", "--photos", images / "plain.png", "-o", tmp_path / "r.txt")
    assert code == 1 and "unsupported extension '.txt'" in err and err.count("\n") == 1
