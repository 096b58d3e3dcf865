import json
import os
from pathlib import Path

import numpy as np
import pytest
from cli_utils import run_cli

from dynamicnet.apps.style.video import alpha_at, parse_keyframes
from dynamicnet.core import load_pretrained
from dynamicnet.errors import DynamicNetError

MEGAMIND = Path("/usr/share/doc/opencv-doc/examples/data/Megamind.avi")


@pytest.fixture(scope="module")
def weights_home(tmp_path_factory):
    return tmp_path_factory.mktemp("dnhome")


@pytest.mark.slow
@pytest.mark.parametrize("recipe", ["level", "two-style", "scale", "dual"])
def test_dry_run_of_each_recipe_trains_one_real_step_per_phase(capsys, tmp_path, monkeypatch, weights_home, recipe):
    monkeypatch.setenv("DYNAMICNET_HOME", str(weights_home))
    code, out, err = run_cli(
        capsys,
        "train",
        "style",
        "--recipe",
        recipe,
        "--dry-run",
        "--out",
        tmp_path / "m",
        "--no-progress",
        "--device",
        "cpu",
    )
    assert code == 0, err
    model, config = load_pretrained(tmp_path / "m")
    phases = config["provenance"]["phases"]
    assert [p["steps"] for p in phases] == [1] * len(phases)
    assert [p["name"] for p in phases] == ["main", *config["dynamic"]["sets"]]
    assert "hed" in config["provenance"]["vgg16_weights"].lower()  # the real offline weights, not random
    assert config["architecture"]["kwargs"] == {"width": [8, 16, 48]}  # the recipes' tapered θ
    records = [json.loads(line) for line in (tmp_path / "m" / "train" / "metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["loss"]) for r in records) and len(records) == len(phases)


@pytest.mark.slow
def test_resume_flag_without_checkpoint_is_one_line(capsys, tmp_path):
    code, _, err = run_cli(
        capsys,
        "train",
        "style",
        "--dry-run",
        "--out",
        tmp_path / "m",
        "--resume",
        "--vgg-weights",
        "random",
        "--no-progress",
    )
    assert code == 1 and "no checkpoint to resume" in err and err.count("\n") == 1


@pytest.mark.slow  # trains a model per application
@pytest.mark.parametrize("app", ["style", "dcgan", "completion"])
def test_train_refuses_to_replace_a_finished_model_without_overwrite(capsys, tmp_path, app):
    out = tmp_path / "m"
    args = ["train", app, "--dry-run", "--out", out, "--no-progress", "--device", "cpu"]
    if app != "dcgan":
        args += ["--vgg-weights", "random"]
    code, _, err = run_cli(capsys, *args)
    assert code == 0, err
    (out / "train" / "checkpoint.pt").unlink(missing_ok=True)  # a finished folder as shipped: no training state
    before = (out / "model.safetensors").read_bytes()
    code, _, err = run_cli(capsys, *args)
    assert code == 1 and "already holds a finished model" in err and "--overwrite" in err and err.count("\n") == 1
    assert (out / "model.safetensors").read_bytes() == before
    code, _, err = run_cli(capsys, *args, "--overwrite")
    assert code == 0, err


def test_weights_command_reports_the_source(capsys, monkeypatch, weights_home):
    monkeypatch.setenv("DYNAMICNET_HOME", str(weights_home))
    code, out, err = run_cli(capsys, "weights", "vgg16")
    assert code == 0, err
    assert "hed" in out.lower() and str(weights_home) in out


def test_keyframes_parse_and_interpolate():
    kf = parse_keyframes("5:1,0:0")
    assert kf == [(0.0, 0.0), (5.0, 1.0)]
    assert alpha_at(kf, -1) == 0.0 and alpha_at(kf, 2.5) == 0.5 and alpha_at(kf, 9) == 1.0
    for bad in ("0-1", "a:b", "0:1,0:2", "-1:0", "0:nan"):
        with pytest.raises(DynamicNetError):
            parse_keyframes(bad)


@pytest.mark.slow
@pytest.mark.skipif(not MEGAMIND.is_file(), reason="Debian opencv-doc not installed (make test installs it)")
def test_stylize_video_on_megamind_with_animated_alpha(capsys, tiny_style_model, tmp_path):
    import imageio_ffmpeg

    out = tmp_path / "out.mp4"
    code, stdout, err = run_cli(
        capsys,
        "stylize-video",
        MEGAMIND,
        "--model",
        tiny_style_model,
        "--alpha-keyframes",
        "0:0,0.2:1",
        "--max-frames",
        "6",
        "--max-side",
        "96",
        "-o",
        out,
    )
    assert code == 0, err
    assert "6 frames" in stdout
    reader = imageio_ffmpeg.read_frames(str(out))
    meta = next(reader)
    frames = list(reader)
    assert len(frames) == 6 and max(meta["size"]) in (96, 97)
    assert meta["audio_codec"] == "aac"  # Megamind's soundtrack is kept (re-encoded for .mp4)
    assert meta["duration"] < 0.5  # … and cut to the 6 stylised frames
    # α follows the keyframes: frame 0 is the α=0 rendering, frame 5 (t=0.2 s at 25 fps) the α=1 one.
    import torch

    from dynamicnet.apps.style.pipeline import StylePipeline

    pipe = StylePipeline.from_pretrained(tiny_style_model)
    src_reader = imageio_ffmpeg.read_frames(str(MEGAMIND))
    w, h = next(src_reader)["size"]
    src = [
        torch.from_numpy(np.frombuffer(f, np.uint8).reshape(h, w, 3).copy()).permute(2, 0, 1) / 255.0
        for _, f in zip(range(6), src_reader)
    ]
    src_reader.close()
    ow, oh = meta["size"]
    got = [
        torch.from_numpy(np.frombuffer(f, np.uint8).reshape(oh, ow, 3).copy()).permute(2, 0, 1) / 255.0 for f in frames
    ]
    for i, (lo, hi) in ((0, (0.0, 1.0)), (5, (1.0, 0.0))):
        near = pipe(src[i], alpha=lo, max_side=96)
        far = pipe(src[i], alpha=hi, max_side=96)
        g = got[i][:, : near.shape[1], : near.shape[2]]
        assert (g - near).abs().mean() < 0.5 * (g - far).abs().mean()


def test_stylize_video_bad_input(capsys, tiny_style_model, tmp_path):
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"not a video")
    out = tmp_path / "o.mp4"
    code, _, err = run_cli(capsys, "stylize-video", bad, "--model", tiny_style_model, "-o", out)
    assert code == 1 and "bad.avi" in err and err.count("\n") == 1
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


@pytest.mark.slow  # two training runs
def test_tuning_phase_from_a_main_model_keeps_theta_and_records_lineage(capsys, tmp_path):
    import torch

    base, tuned = tmp_path / "main", tmp_path / "tuned"
    args = ["--dry-run", "--vgg-weights", "random", "--no-progress", "--device", "cpu"]
    assert run_cli(capsys, "train", "style", "--phase", "main", "--out", base, *args)[0] == 0
    code, _, err = run_cli(
        capsys, "train", "style", "--phase", "tuning", "--blocks", "out", "--init-from", base, "--out", tuned, *args
    )
    assert code == 0, err
    a, _ = load_pretrained(base)
    b, config = load_pretrained(tuned)
    for key, value in a.main.state_dict().items():  # θ copied and left untouched by the tuning phase
        assert torch.equal(value, b.main.state_dict()[key]), key
    assert config["dynamic"]["insertion_points"] == ["out"]
    assert config["provenance"]["init_from"]["folder"] == str(base)
    assert [p["name"] for p in config["provenance"]["init_from"]["provenance"]["phases"]] == ["main"]
    code, _, err = run_cli(capsys, "train", "style", "--phase", "tuning", "--out", tmp_path / "x", *args)
    assert code == 1 and "--init-from" in err


@pytest.mark.slow
def test_json_recipe_file_and_fp16_folder(capsys, tmp_path):
    recipe = tmp_path / "r.json"
    recipe.write_text(
        json.dumps(
            {
                "name": "mine",
                "width": 4,
                "insertion_points": ["up1", "out"],
                "main": {"style": "starry_night", "style_weight": 10.0},
                "sets": {"higher": {"style": "starry_night", "style_weight": 1000.0}},
            }
        )
    )
    code, _, err = run_cli(
        capsys,
        "train",
        "style",
        "--recipe",
        recipe,
        "--dry-run",
        "--fp16",
        "--vgg-weights",
        "random",
        "--no-progress",
        "--out",
        tmp_path / "m",
    )
    assert code == 0, err
    model, config = load_pretrained(tmp_path / "m")
    assert config["dtype"] == "float16" and config["dynamic"]["insertion_points"] == ["up1", "out"]
    assert config["objectives"]["higher"]["style_weight"] == 1000.0
    recipe.write_text(json.dumps({"name": "bad", "widht": 4}))
    code, _, err = run_cli(capsys, "train", "style", "--recipe", recipe, "--dry-run", "--out", tmp_path / "n")
    assert code == 1 and "unknown recipe key(s) ['widht']" in err


@pytest.mark.slow
@pytest.mark.parametrize("app", ["dcgan", "completion"])
def test_torchrun_through_a_real_app_writes_and_reports_once(tmp_path, app):
    import subprocess
    import sys

    from factories import free_port

    port = free_port()
    args = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(port),
        "-m",
        "dynamicnet",
        "train",
        app,
        "--dry-run",
        "--out",
        str(tmp_path / "m"),
        "--device",
        "cpu",
        "--no-progress",
        "--fp16",
    ]
    if app == "completion":
        args += ["--vgg-weights", "random"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    # The ranks' own messages come before torchrun's summary: show both ends when a rank fails.
    assert proc.returncode == 0, proc.stderr[:3000] + "\n[…]\n" + proc.stderr[-1500:]
    assert proc.stdout.count("model folder:") == 1, proc.stdout  # every rank used to print (and convert)
    model, _ = load_pretrained(tmp_path / "m")
    assert model is not None


def test_a_missing_optional_extra_is_one_line_naming_it(capsys, tiny_style_model, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # as if the `video` extra were not installed
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(capsys, "stylize-video", tmp_path / "in.avi", "--model", tiny_style_model, "-o", out)
    assert code == 1 and not out.exists()
    assert err.strip() == "dynamicnet: error: stylize-video needs imageio_ffmpeg: pip install 'dynamicnet[video]'"
    monkeypatch.setitem(sys.modules, "h5py", None)
    from dynamicnet.errors import DynamicNetError, require

    with pytest.raises(DynamicNetError, match=r"^x needs h5py: pip install 'dynamicnet\[weights\]'$"):
        require("h5py", "weights", "x")
