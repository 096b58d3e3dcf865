import os
import subprocess
import sys

import pytest
from cli_utils import run_cli

from dynamicnet import __version__


def test_version_and_module_entry_point():
    proc = subprocess.run([sys.executable, "-m", "dynamicnet", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == f"dynamicnet {__version__}"


def test_usage_error_is_one_line_exit_2(capsys):
    code, out, err = run_cli(capsys, "stylize")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "required" in err


def test_unknown_command_exit_2(capsys):
    code, _, err = run_cli(capsys, "frobnicate")
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_info_prints_summary(capsys, tiny_style_model):
    code, out, _ = run_cli(capsys, "info", tiny_style_model)
    assert code == 0
    assert "application:  style" in out and "res3 (16 ch)" in out and "α range: [0.0, 1.0]" in out


def test_info_on_broken_folder_is_one_line_exit_1(capsys, tmp_path):
    (tmp_path / "config.json").write_text("{oops")
    code, out, err = run_cli(capsys, "info", tmp_path)
    assert code == 1 and err.count("\n") == 1 and "config.json: invalid JSON" in err and "Traceback" not in err


def test_invalid_device_is_a_clear_error(capsys, tiny_style_model, tmp_path):
    import torch

    from dynamicnet.data.io import save_image

    img = tmp_path / "x.png"
    save_image(torch.rand(3, 8, 8), img)
    code, _, err = run_cli(
        capsys, "stylize", img, "--model", tiny_style_model, "-o", tmp_path / "o.png", "--device", "gpu7"
    )
    assert code == 1 and "invalid device 'gpu7'" in err


def test_models_lists_every_bundled_model_on_one_line(capsys):
    from dynamicnet.models import bundled_models

    code, out, _ = run_cli(capsys, "models")
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == len(bundled_models()) >= 6
    assert [line.split()[0] for line in lines] == list(bundled_models())


def test_ctrl_c_while_starting_is_one_line_exit_130(capsys, monkeypatch):
    import dynamicnet.cli  # noqa: F401  (the package's `main` attribute is the function, not the module)

    cli_main = sys.modules["dynamicnet.cli.main"]

    def interrupted():
        raise KeyboardInterrupt  # what a Ctrl-C during the (slow) torch import looks like

    monkeypatch.setattr(cli_main, "build_parser", interrupted)
    code, _, err = run_cli(capsys, "models")
    assert code == 130 and err == "dynamicnet: interrupted\n"


def test_interrupted_training_exits_130(capsys, monkeypatch, tmp_path):
    from dynamicnet.apps.style import train as style_train
    from dynamicnet.training.trainer import TrainingInterrupted

    def stopped(*args, **kwargs):
        raise TrainingInterrupted(tmp_path / "train" / "checkpoint.pt", "main", 3)

    monkeypatch.setattr(style_train, "train_style", stopped)
    code, _, err = run_cli(capsys, "train", "style", "--dry-run", "--out", tmp_path, "--vgg-weights", "random")
    assert code == 130 and err.count("\n") == 1 and "error" not in err  # a stop on request, not a failure
    assert err.startswith("dynamicnet: interrupted: checkpoint saved at phase 'main' step 3") and "--resume" in err


def test_cli_module_and_package_root_import_no_torch():
    # the command line answers Ctrl-C cleanly only if nothing heavy runs before main(); users importing the
    # package for its version or error class should not pay for torch either
    code = "import sys, dynamicnet, dynamicnet.cli.main, dynamicnet.errors; print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "False", proc.stderr


@pytest.mark.slow  # a fresh interpreter per bundled model
def test_every_bundled_model_loads_through_the_public_api_in_a_fresh_process():
    # architectures used to register only when their app module happened to be imported first
    code = (
        "import dynamicnet; from dynamicnet.models import bundled_models\n"
        "for name, folder in bundled_models().items():\n"
        "    model, config = dynamicnet.load_pretrained(folder)\n"
        "    print(name, config['application'])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "completion-photos completion" in proc.stdout and "starry-level style" in proc.stdout


def test_negative_alpha_lists_parse_without_an_equals_sign():
    from dynamicnet.cli.main import build_parser

    parser = build_parser()
    assert parser.parse_args(["sweep", "p.png", "--alphas", "-1,0,1", "-o", "s.png"]).alphas == [-1, 0, 1]
    assert parser.parse_args(["stylize", "p.png", "--block-alphas", "-1,-0.5,.5", "-o", "o.png"]).block_alphas == [
        -1,
        -0.5,
        0.5,
    ]
    assert parser.parse_args(["generate", "--alphas", "-0.5,1e-1", "-o", "g.png"]).alphas == [-0.5, 0.1]
    assert parser.parse_args(["stylize", "p.png", "--alpha", "-0.25", "-o", "o.png"]).alpha == -0.25
    with pytest.raises(SystemExit):
        parser.parse_args(["sweep", "p.png", "--alphas", "-x", "-o", "s.png"])  # still an unknown option


def test_demo_takes_device_like_every_other_command(capsys, monkeypatch):
    import dynamicnet.demo.server as server

    seen = {}

    def fake_create_app(models, **kwargs):
        seen.update(kwargs)
        raise KeyboardInterrupt  # stop before serving

    monkeypatch.setattr(server, "create_app", fake_create_app)
    code, _, err = run_cli(capsys, "demo", "--device", "cpu", "--port", "7861")
    assert code == 130 and seen["device"] == "cpu" and "127.0.0.1" in seen["allowed_hosts"]
    code, _, err = run_cli(capsys, "demo", "--device", "tpu")
    assert code == 1 and "tpu" in err


def test_help_and_version_answer_without_importing_torch():
    code = (
        "import sys; from dynamicnet.cli.main import main\n"
        "for argv in (['--version'], ['--help'], ['stylize', '--help'], ['train', 'style', '--help']):\n"
        "    assert main(argv) == 0\n"
        "print('torch' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip().splitlines()[-1] == "False", proc.stderr


def test_misspelt_command_or_choice_names_the_closest(capsys):
    code, _, err = run_cli(capsys, "stylze", "x.png")
    assert (
        code == 2 and err.strip() == "dynamicnet: error: unknown command 'stylze'; did you mean 'stylize'? (see --help)"
    )
    code, _, err = run_cli(capsys, "stylize", "x.png", "-o", "y.png", "--engine", "onnxruntim")
    assert code == 2 and "did you mean 'onnxruntime'?" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow  # a fresh interpreter per case
@pytest.mark.parametrize(
    "argv",
    [
        ["info", "starry-level", "--json"],
        ["info", "starry-level"],
        ["models"],
        ["--help"],
        ["stylize", "--help"],
        ["--version"],
    ],
)
def test_a_closed_pipe_exits_quietly(argv):
    # Without PYTHONUNBUFFERED (set in some CI shells, never by users), short output waits in stdout's buffer
    # until shutdown's flush, where a closed pipe used to print "Exception ignored … BrokenPipeError" (exit 120).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    reader = subprocess.Popen(
        [sys.executable, "-m", "dynamicnet", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    reader.stdout.close()  # the reader is gone before the command writes (like `| head -c 0`)
    assert reader.wait(60) == 0
    assert reader.stderr.read() == b""
