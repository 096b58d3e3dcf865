import numpy as np
import pytest
import torch
from cli_utils import run_cli
from factories import make_tiny_completion_model
from PIL import Image

from dynamicnet.apps.completion.pipeline import CompletionPipeline
from dynamicnet.core import read_config
from dynamicnet.data.io import load_image


@pytest.fixture(scope="module")
def tiny_completion_model(tmp_path_factory):
    return make_tiny_completion_model(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "in.png"
    Image.fromarray((np.random.default_rng(0).random((37, 50, 3)) * 255).astype(np.uint8)).save(path)
    return path


def _mask_png(path, h, w, box=None, value=255):
    a = np.zeros((h, w), np.uint8)
    if box is not None:
        top, bottom, left, right = box
        a[top:bottom, left:right] = value
    Image.fromarray(a).save(path)
    return path


def test_dry_run_trains_both_phases_and_the_model_completes(capsys, tmp_path, photo):
    out = tmp_path / "m"
    code, stdout, err = run_cli(
        capsys,
        "train",
        "completion",
        "--dry-run",
        "--out",
        out,
        "--no-progress",
        "--device",
        "cpu",
        "--mask",
        "strokes",
        "--fp16",
    )
    assert code == 0, err
    config = read_config(out)
    assert config["application"] == "completion" and config["extra"]["mask"] == "strokes"
    assert config["dtype"] == "float16"
    assert [p["name"] for p in config["provenance"]["phases"]] == ["main", "higher"]
    assert config["extra"]["hole_fill"] == "march"
    # θ trains for L1 + VGG + SSIM, the blocks for L1: no adversarial term, so no discriminator is stored
    assert not (out / "discriminator.safetensors").exists()
    code, _, err = run_cli(capsys, "complete", photo, "--model", out, "--alpha", "0.5", "-o", tmp_path / "o.png")
    assert code == 0, err


def test_texture_recipe_trains_its_blocks_for_the_texture_term(capsys, tmp_path):
    import json

    out = tmp_path / "t"
    args = ["train", "completion", "--dry-run", "--recipe", "photos-texture", "--tuning-texture-weight", "5"]
    code, _, err = run_cli(capsys, *args, "--out", out, "--no-progress", "--log-every", "1")
    assert code == 0, err
    objectives = read_config(out)["objectives"]
    assert objectives["higher"]["texture_weight"] == 5 and objectives["main"]["texture_weight"] == 0
    logged = [json.loads(line) for line in (out / "train" / "metrics.jsonl").read_text().splitlines()]
    assert [("texture" in m) for m in logged if "phase" in m] == [False, True]


def test_tuning_phase_leaves_the_main_network_untouched(capsys, tmp_path):
    main = tmp_path / "main"
    assert (
        run_cli(capsys, "train", "completion", "--dry-run", "--phase", "main", "--out", main, "--no-progress")[0] == 0
    )
    tuned = tmp_path / "tuned"
    code, _, err = run_cli(
        capsys,
        "train",
        "completion",
        "--dry-run",
        "--phase",
        "tuning",
        "--init-from",
        main,
        "--tuning-adv-weight",
        "0.05",
        "--out",
        tuned,
        "--no-progress",
    )
    assert code == 0, err
    a, b = CompletionPipeline.from_pretrained(main).model, CompletionPipeline.from_pretrained(tuned).model
    for (k, v), w in zip(a.main.state_dict().items(), b.main.state_dict().values()):
        assert torch.equal(v, w), k
    assert not all(torch.equal(v, w) for v, w in zip(a.tuning_parameters(), b.tuning_parameters()))
    code, _, err = run_cli(capsys, "train", "completion", "--dry-run", "--phase", "tuning", "--out", tmp_path / "x")
    assert code == 1 and "--init-from" in err


def test_complete_keeps_known_pixels_bit_for_bit_at_any_size(capsys, tiny_completion_model, photo, tmp_path):
    out = tmp_path / "out.png"
    code, stdout, err = run_cli(
        capsys, "complete", photo, "--model", tiny_completion_model, "--alpha", "0.7", "-o", out, "--device", "cpu"
    )
    assert code == 0, err
    assert str(out) in stdout
    src = np.asarray(Image.open(photo))
    res = np.asarray(Image.open(out))
    assert res.shape == src.shape
    pipe = CompletionPipeline.from_pretrained(tiny_completion_model)
    mask = pipe.default_mask(37, 50)[0].numpy() > 0.5  # 18² (the model's ½ ratio of the shorter side)
    assert mask.sum() == 18 * 18
    assert np.array_equal(res[~mask], src[~mask])
    expected = pipe(load_image(photo).rgb, alpha=0.7)
    assert (load_image(out).rgb - expected).abs().max() <= 1 / 255 + 1e-6


def test_user_mask_png_white_is_hole(capsys, tiny_completion_model, photo, tmp_path):
    mask = _mask_png(tmp_path / "mask.png", 37, 50, box=(3, 12, 30, 45))
    out = tmp_path / "out.png"
    code, _, err = run_cli(
        capsys, "complete", photo, "--model", tiny_completion_model, "--mask", mask, "--alpha", "1", "-o", out
    )
    assert code == 0, err
    src, res = np.asarray(Image.open(photo)), np.asarray(Image.open(out))
    hole = np.zeros((37, 50), bool)
    hole[3:12, 30:45] = True
    assert np.array_equal(res[~hole], src[~hole]) and not np.array_equal(res[hole], src[hole])


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("empty", "no hole"),
        ("full", "whole image"),
        ("size", "must match"),
        ("hole-with-file", "--hole"),
    ],
)
def test_bad_masks_fail_in_one_line_without_output(capsys, tiny_completion_model, photo, tmp_path, case, words):
    if case == "empty":
        mask = _mask_png(tmp_path / "m.png", 37, 50)
    elif case == "full":
        mask = _mask_png(tmp_path / "m.png", 37, 50, box=(0, 37, 0, 50))
    else:
        mask = _mask_png(tmp_path / "m.png", 36, 50, box=(3, 12, 30, 45))
    extra = ["--hole", "4"] if case == "hole-with-file" else []
    out = tmp_path / "out.png"
    code, _, err = run_cli(
        capsys, "complete", photo, "--model", tiny_completion_model, "--mask", mask, *extra, "-o", out
    )
    assert code == 1 and words in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_centre_hole_too_large_and_bad_alpha(capsys, tiny_completion_model, photo, tmp_path):
    code, _, err = run_cli(
        capsys, "complete", photo, "--model", tiny_completion_model, "--hole", "40", "-o", tmp_path / "o.png"
    )
    assert code == 1 and "hole side" in err and not (tmp_path / "o.png").exists()
    code, _, err = run_cli(
        capsys, "complete", photo, "--model", tiny_completion_model, "--alpha", "lots", "-o", tmp_path / "o.png"
    )
    assert code == 2 and "not a number or 'auto'" in err
    code, _, err = run_cli(capsys, "complete", photo, "--model", tiny_completion_model, "-o", tmp_path / "o.xyz")
    assert code == 1 and "o.xyz" in err


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:VGG16 has random weights")
def test_strip_across_alpha_with_auto(capsys, tiny_completion_model, photo, tmp_path):
    sheet = tmp_path / "strip.png"
    code, stdout, err = run_cli(
        capsys,
        "complete",
        photo,
        "--model",
        tiny_completion_model,
        "--alpha",
        "auto",
        "--alphas",
        "0,0.5,1",
        "--vgg-weights",
        "random",
        "-o",
        sheet,
    )
    assert code == 0, err
    assert "auto alpha:" in stdout
    assert load_image(sheet).rgb.shape[2] > 5 * 50  # input + 3 α + auto


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:VGG16 has random weights")
def test_evaluate_completion_prints_curve_oracle_and_auto(capsys, tiny_completion_model, tmp_path):
    photo = tmp_path / "p.png"
    Image.fromarray((np.random.default_rng(1).random((60, 70, 3)) * 255).astype(np.uint8)).save(photo)
    code, stdout, err = run_cli(
        capsys,
        "evaluate-completion",
        "--model",
        tiny_completion_model,
        "--photos",
        photo,
        "--crops",
        "2",
        "--alphas",
        "0,1",
        "--vgg-weights",
        "random",
        "--json",
        tmp_path / "r.json",
    )
    assert code == 0, err
    assert "oracle" in stdout and "auto α" in stdout and (tmp_path / "r.json").is_file()
    assert stdout.endswith(f"{tmp_path / 'r.json'}\n{tmp_path / 'r.png'}\n")
    with Image.open(tmp_path / "r.png") as plot:  # the curves against α, beside the JSON
        assert plot.format == "PNG" and plot.width > 3 * 300


@pytest.mark.parametrize("partition", [True, False])
def test_train_on_celeba_folder(capsys, tmp_path, partition):
    root = tmp_path / "celeba"
    (root / "img_align_celeba").mkdir(parents=True)
    rows = []
    for i in range(1, 4):
        a = (np.random.default_rng(i).random((218, 178, 3)) * 255).astype(np.uint8)
        Image.fromarray(a).save(root / "img_align_celeba" / f"{i:06d}.jpg")
        rows.append(f"{i:06d}.jpg {1 if i % 2 else -1:2d}")
    (root / "list_attr_celeba.txt").write_text("3\nMale\n" + "\n".join(rows) + "\n")
    if partition:
        (root / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg 0\n000003.jpg 2\n")
    out = tmp_path / "m"
    code, _, err = run_cli(
        capsys,
        "train",
        "completion",
        "--data",
        f"celeba:{root}",
        "--recipe",
        "celeba",
        "--size",
        "32",
        "--width",
        "4",
        "--steps",
        "1",
        "--batch-size",
        "2",
        "--sample-every",
        "0",
        "--no-progress",
        "--out",
        out,
    )
    assert code == 0, err
    config = read_config(out)
    assert "CelebA" in config["provenance"]["data"] and config["extra"]["hole"] == 16
    assert ("train partition" in config["provenance"]["data"]) == partition


def test_default_alpha_comes_from_the_model(capsys, tiny_completion_model, photo, tmp_path):
    out = tmp_path / "out.png"
    code, _, err = run_cli(capsys, "complete", photo, "--model", tiny_completion_model, "-o", out)
    assert code == 0, err
    pipe = CompletionPipeline.from_pretrained(tiny_completion_model)
    assert pipe.default_alpha == 0.5  # uncalibrated model
    assert (load_image(out).rgb - pipe(load_image(photo).rgb, alpha=0.5)).abs().max() <= 1 / 255 + 1e-6
