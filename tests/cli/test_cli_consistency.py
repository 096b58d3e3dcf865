"""The command line as one tool (issue #17, "CLI consistency"): one name per concept, help that shows defaults,
folder inputs with unique output names, Ctrl-C, and progress bars that stay out of pipes."""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
from cli_utils import run_cli
from factories import make_tiny_completion_model
from PIL import Image

from dynamicnet.cli.main import build_parser


def _walk(parser: argparse.ArgumentParser, name: str = ""):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, p in action.choices.items():
                full = f"{name} {sub}".strip()
                yield full, p
                yield from _walk(p, full)


COMMANDS = dict(_walk(build_parser()))
#: Every command that writes a file or folder (its --output), and every one with a loop long enough for a bar.
WRITERS = {
    "stylize",
    "sweep",
    "stylize-video",
    "complete",
    "generate",
    "export",
    "evaluate-style",
    "evaluate-completion",
    "evaluate-dcgan",
    "evaluate-objective-space",
    "evaluate objective-space",
    "train style",
    "train completion",
    "train dcgan",
    "train tuning",
    "train classifier",
}
LOOPS = {
    "stylize",
    "sweep",
    "stylize-video",
    "generate",
    "evaluate-style",
    "evaluate-dcgan",
    "complete",
    "evaluate-completion",
    "calibrate-completion",
    "evaluate-objective-space",
    "train style",
    "train completion",
    "train dcgan",
    "train tuning",
    "train classifier",
}


def _options(command: str) -> list[argparse.Action]:
    return [
        a for a in COMMANDS[command]._actions if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))
    ]


def _photo(path, h=30, w=40, seed=0):
    Image.fromarray((np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)).save(path)
    return path


def _err_without_warnings(err: str) -> str:
    return "".join(line for line in err.splitlines(keepends=True) if "Warning" not in line and "vgg =" not in line)


# ------------------------------------------------------------------------------------------------ one name each


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_option_has_help_that_shows_its_default(command):
    formatter = COMMANDS[command]._get_formatter()
    for action in _options(command):
        assert action.help, f"{command} {action.option_strings or action.dest}: no help text"
        shown = formatter._get_help_string(action)
        if action.option_strings and action.default not in (None, False, argparse.SUPPRESS, []):
            assert "default" in shown.lower(), f"{command} {action.option_strings}: default not shown"
        assert "None" not in shown


def test_defaults_are_shown_as_they_are_typed():
    text = " ".join(COMMANDS["sweep"].format_help().split())
    assert "(default: 0,0.25,0.5,0.75,1)" in text and "(default: starry-level)" in text and "(default: 21)" in text
    assert "(default: 1)" in " ".join(COMMANDS["stylize"].format_help().split())  # --alpha 1.0


def test_positionals_are_named_alike():
    names = {command: [a.metavar for a in _options(command) if not a.option_strings] for command in COMMANDS}
    expected = {
        "info": ["MODEL"],
        "export": ["MODEL"],
        "stylize": ["INPUT"],
        "sweep": ["INPUT"],
        "stylize-video": ["INPUT"],
        "complete": ["INPUT"],
        "inspect": ["NETWORK"],
        "weights": ["NETWORK"],
    }
    for command, metavars in names.items():
        assert metavars == expected.get(command, metavars) and all(m and m.isupper() for m in metavars), command


def test_what_a_command_writes_is_always_output_or_o():
    for command in COMMANDS:
        outputs = [a for a in _options(command) if a.dest == "output"]
        if command in WRITERS:
            assert outputs, f"{command} has no --output"
        for action in outputs:
            assert action.option_strings[:2] == ["--output", "-o"], (command, action.option_strings)


def test_one_flag_for_insertion_points_and_one_for_training_data():
    for command in ("train style", "train dcgan", "train tuning"):
        (blocks,) = [a for a in _options(command) if "insertion point" in a.help]
        assert blocks.option_strings[0] == "--blocks" and blocks.metavar == "POINT,...", command
    for command in ("train style", "train completion", "train dcgan", "train tuning"):
        assert "--data" in COMMANDS[command]._option_string_actions, command
    # and every flag means one thing: the same name always fills the same value
    dests: dict[str, set[str]] = {}
    for command in COMMANDS:
        for action in _options(command):
            for flag in action.option_strings:
                dests.setdefault(flag, set()).add(action.dest)
    assert {f: d for f, d in dests.items() if len(d) > 1} == {"--json": {"json", "output"}}  # alias below


def test_old_spellings_still_work_but_stay_out_of_the_help(tmp_path):
    parser = build_parser()
    args = parser.parse_args(["train", "style", "--out", "m", "--content", "photos"])
    assert (args.output, args.data) == ("m", "photos")
    args = parser.parse_args(["train", "tuning", "--main", "n.onnx", "--blocks", "a", "--out", "m", "--content", "c"])
    assert (args.output, args.data) == ("m", "c")  # --out is not mistaken for a prefix of --output-range
    assert parser.parse_args(["train", "dcgan", "--insertion-points", "layer2", "--out", "m"]).blocks == "layer2"
    assert parser.parse_args(["train", "classifier", "--out", "m"]).output == "m"
    assert parser.parse_args(["evaluate-completion", "--json", "r.json"]).output == "r.json"
    assert parser.parse_args(["evaluate-dcgan", "--json", "r.json"]).output == "r.json"
    hidden = re.compile(r"--(out|content|insertion-points)(?![\w-])|--json FILE")
    for command, sub in COMMANDS.items():
        assert not hidden.search(sub.format_help()), command
    assert "--json" in COMMANDS["info"].format_help()  # a flag of its own there, not an alias: still shown


@pytest.mark.slow
def test_training_writes_to_o(capsys, tmp_path):
    code, out, err = run_cli(capsys, "train", "dcgan", "--dry-run", "-o", tmp_path / "m", "--device", "cpu")
    assert code == 0, err
    assert (tmp_path / "m" / "model.safetensors").is_file() and f"model folder: {tmp_path / 'm'}" in out
    assert err == ""  # stderr is not a terminal here: no step bar without --no-progress either
    code, _, err = run_cli(capsys, "train", "dcgan", "--dry-run", "-o", tmp_path / "m")
    assert code == 1 and "choose another output folder" in err and "--out " not in err


def test_unknown_application_names_the_closest(capsys):
    code, _, err = run_cli(capsys, "train", "stlye")
    assert code == 2 and "unknown application 'stlye'; did you mean 'style'?" in err and err.count("\n") == 1


# --------------------------------------------------------------------------------------------- folder inputs


@pytest.fixture
def tree(tmp_path):
    """in/a.png, in/b.jpg, in/sub/a.png, in/sub/deeper/c.png, plus a hidden file and a text file to skip."""
    root = tmp_path / "in"
    (root / "sub" / "deeper").mkdir(parents=True)
    for i, name in enumerate(["a.png", "b.jpg", "sub/a.png", "sub/deeper/c.png", ".hidden.png"]):
        _photo(root / name, seed=i)
    (root / "notes.txt").write_text("not an image")
    return root


def _files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_stylize_a_folder(capsys, tiny_style_model, tree, tmp_path):
    out = tmp_path / "out"
    code, stdout, err = run_cli(capsys, "stylize", tree, "--model", tiny_style_model, "-o", out)
    assert code == 0, err
    assert _files(out) == ["a.png", "b.png"]  # its own images only; hidden and non-image files skipped
    assert stdout.split() == [str(out / "a.png"), str(out / "b.png")]


@pytest.mark.slow
def test_stylize_a_folder_recursively_keeps_its_tree(capsys, tiny_style_model, tree, tmp_path):
    out = tmp_path / "out"
    code, _, err = run_cli(capsys, "stylize", tree, "--recursive", "--model", tiny_style_model, "-o", out)
    assert code == 0, err
    assert _files(out) == ["a.png", "b.png", "sub/a.png", "sub/deeper/c.png"]  # no name clash between folders


def test_output_folder_inside_the_input_folder_is_not_an_input(capsys, tiny_style_model, tree):
    for _ in range(2):  # a rerun does not stylise the first run's results
        code, _, err = run_cli(capsys, "stylize", tree, "-r", "--model", tiny_style_model, "-o", tree / "styled")
        assert code == 0, err
    assert _files(tree / "styled") == ["a.png", "b.png", "sub/a.png", "sub/deeper/c.png"]
    code, _, err = run_cli(capsys, "stylize", tree, "--model", tiny_style_model, "-o", tree)  # into itself
    assert code == 1 and "would write a.png over the input" in err and err.count("\n") == 1


def test_folders_without_images_are_one_line(capsys, tiny_style_model, tree, tmp_path):
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(capsys, "stylize", tmp_path / "empty", "--model", tiny_style_model, "-o", tmp_path / "o")
    assert code == 1 and err.count("\n") == 1 and "no images in this folder (.jpg" in err
    code, _, err = run_cli(capsys, "stylize", tmp_path, "--model", tiny_style_model, "-o", tmp_path / "o")
    assert code == 1 and err.count("\n") == 1 and "its subfolders have 4: add --recursive" in err
    code, _, err = run_cli(
        capsys, "stylize", tree / "sub" / "deeper", "--model", tiny_style_model, "-o", tmp_path / "o.png"
    )  # one image, but a folder: its results need a folder
    assert code == 1 and "a folder input needs --output to be a folder, not" in err
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.png").exists()


def test_repeated_names_are_numbered_not_overwritten(capsys, tiny_style_model, tmp_path):
    # the example: `stylize a.jpg a.png -o out/` used to write out/a.png twice
    a_jpg, a_png = _photo(tmp_path / "a.jpg", seed=1), _photo(tmp_path / "a.png", seed=2)
    code, stdout, err = run_cli(
        capsys, "stylize", a_jpg, a_png, a_jpg, "--model", tiny_style_model, "-o", f"{tmp_path / 'out.v2'}/"
    )  # a trailing slash: a folder despite its suffix
    assert code == 0, err
    out = tmp_path / "out.v2"
    assert stdout.split() == [str(out / "a.png"), str(out / "a-2.png")]  # in input order; a.jpg once
    assert not np.array_equal(*(np.asarray(Image.open(out / n)) for n in ("a.png", "a-2.png")))


# ------------------------------------------------------------------------------------------------------ Ctrl-C


def test_ctrl_c_in_training_saves_says_so_and_resumes(capsys, monkeypatch, tmp_path):
    import os
    import signal

    from dynamicnet.apps.dcgan.train import DCGANTask

    step = DCGANTask.training_step

    def interrupted(self, ctx, batch):
        out = step(self, ctx, batch)
        os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, in the middle of the main phase
        return out

    monkeypatch.setattr(DCGANTask, "training_step", interrupted)
    args = ["train", "dcgan", "--dry-run", "-o", tmp_path / "m", "--device", "cpu"]
    code, _, err = run_cli(capsys, *args)
    checkpoint = tmp_path / "m" / "train" / "checkpoint.pt"
    assert code == 130 and err == (
        f"dynamicnet: interrupted: checkpoint saved at phase 'main' step 1 in {checkpoint}; rerun with --resume\n"
    )  # not "error"
    monkeypatch.setattr(DCGANTask, "training_step", step)
    code, _, err = run_cli(capsys, *args, "--resume")
    assert code == 0, err
    assert (tmp_path / "m" / "model.safetensors").is_file()


def test_ctrl_c_in_a_batch_is_one_line_exit_130_and_writes_nothing(
    capsys, monkeypatch, tiny_style_model, tree, tmp_path
):
    from dynamicnet.data import io

    load = io.load_image
    calls = []

    def load_then_stop(path):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C while the second image is being stylised
        return load(path)

    monkeypatch.setattr(io, "load_image", load_then_stop)
    code, stdout, err = run_cli(capsys, "stylize", tree, "-r", "--model", tiny_style_model, "-o", tmp_path / "out")
    assert code == 130 and err == "dynamicnet: interrupted\n" and stdout == ""
    assert not (tmp_path / "out").exists()  # neither the first result nor the folders made for the batch


@pytest.mark.slow  # a fresh interpreter, interrupted
def test_a_real_sigint_in_a_separate_process(tiny_style_model, tree, tmp_path):
    # the signal, not a simulated exception: the process's own handler, through the console entry point
    script = (
        "import os, signal, sys\n"
        "import dynamicnet.data.io as io\n"
        "load = io.load_image\n"
        "def load_then_stop(path):\n"
        "    if path.name == 'b.jpg':\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "    return load(path)\n"
        "io.load_image = load_then_stop\n"
        "sys.argv = ['dynamicnet', *sys.argv[1:]]\n"
        "from dynamicnet.cli.main import entry_point\n"
        "entry_point()\n"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            "stylize",
            str(tree),
            "--model",
            str(tiny_style_model),
            "-o",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        # as from a terminal: a suite started in the background (`cmd &`) ignores SIGINT, and children inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.returncode == 130 and proc.stderr == "dynamicnet: interrupted\n" and proc.stdout == ""
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------------- progress


def test_every_long_loop_can_be_silenced():
    for command in LOOPS:
        assert "--no-progress" in COMMANDS[command]._option_string_actions, command


@pytest.fixture(scope="module")
def tiny_completion_model(tmp_path_factory):
    return make_tiny_completion_model(tmp_path_factory.mktemp("models") / "tiny-completion")


@pytest.mark.slow  # each case runs a command on a pseudo-terminal
@pytest.mark.filterwarnings("ignore:VGG16 has random weights")
@pytest.mark.parametrize(
    "command",
    [
        "sweep",
        "generate",
        "evaluate-style",
        "stylize",
        "train dcgan",
        "complete",
        "complete auto",
        "evaluate-completion",
        "calibrate-completion",
    ],
)
def test_bars_show_on_a_terminal_only_and_not_with_no_progress(
    capsys, monkeypatch, tiny_style_model, tiny_completion_model, tmp_path, command
):
    photo = _photo(tmp_path / "p.png")
    completion = ["--model", tiny_completion_model, "--vgg-weights", "random"]
    calibrated = shutil.copytree(tiny_completion_model, tmp_path / "calibrated")  # the command rewrites it
    argv = {
        "sweep": [
            "sweep",
            photo,
            "--model",
            tiny_style_model,
            "--alphas",
            "0,1",
            "-o",
            tmp_path / "s.png",
            "--gif",
            tmp_path / "w.gif",
            "--frames",
            "3",
        ],
        "generate": [
            "generate",
            "--alphas",
            "0,1",
            "--n",
            "2",
            "-o",
            tmp_path / "g.png",
            "--gif",
            tmp_path / "g.gif",
            "--frames",
            "3",
            "--device",
            "cpu",
        ],
        "evaluate-style": [
            "evaluate-style",
            "--model",
            "starry-level",
            "--photos",
            photo,
            "--size",
            "32",
            "--alphas",
            "0,1",
            "--vgg-weights",
            "random",
            "--device",
            "cpu",
        ],
        "stylize": ["stylize", photo, _photo(tmp_path / "q.png"), "--model", tiny_style_model, "-o", tmp_path / "o"],
        "train dcgan": ["train", "dcgan", "--dry-run", "--device", "cpu"],
        "complete": ["complete", photo, *completion, "--alphas", "0,0.5,1", "-o", tmp_path / "c.png"],
        "complete auto": ["complete", photo, *completion, "--alpha", "auto", "-o", tmp_path / "c.png"],
        "evaluate-completion": [
            "evaluate-completion",
            *completion,
            "--photos",
            photo,
            "--crops",
            "2",
            "--alphas",
            "0,1",
            "--no-auto",
        ],
        "calibrate-completion": [
            "calibrate-completion",
            "--model",
            calibrated,
            "--vgg-weights",
            "random",
            "--photos",
            photo,
            _photo(tmp_path / "q.png", seed=1),
            "--crops",
            "2",
        ],
    }[command]
    # a training run needs a new folder each time (a finished one is refused)
    runs = iter([["-o", tmp_path / f"m{i}"] if command.startswith("train") else [] for i in range(3)])
    bar = re.compile(r"\d+/\d+ \[")  # tqdm's "0/2 [00:00<?, …]": count and ETA
    code, _, err = run_cli(capsys, *argv, *next(runs))
    assert code == 0 and _err_without_warnings(err) == "", err  # stderr is a pipe here: no bar
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)  # now it is a terminal
    code, _, err = run_cli(capsys, *argv, *next(runs))
    assert code == 0 and bar.search(err), err
    code, _, err = run_cli(capsys, *argv, *next(runs), "--no-progress")
    assert code == 0 and _err_without_warnings(err) == "", err


@pytest.mark.slow  # runs every pipeline's slow paths
def test_python_api_bars_are_opt_in(capsys, tiny_style_model, tmp_path):
    from dynamicnet.apps.dcgan.pipeline import DCGANPipeline
    from dynamicnet.apps.style.evaluate import alpha_curve
    from dynamicnet.apps.style.pipeline import StylePipeline
    from dynamicnet.losses import load_vgg16

    pipe = DCGANPipeline.from_pretrained("fashion-sneaker-boot")
    pipe.sweep(2, [0.0, 1.0])
    assert capsys.readouterr().err == ""
    pipe.sweep(2, [0.0, 1.0], progress=True)
    assert "/2 [" in capsys.readouterr().err
    with pytest.warns(UserWarning, match="random weights"):
        vgg = load_vgg16("random")
    photos = [_photo(tmp_path / "p.png")]
    style = StylePipeline.from_pretrained("starry-level")
    alpha_curve(style, photos, [0.0, 1.0], vgg, size=32)
    assert capsys.readouterr().err == ""
    alpha_curve(style, photos, [0.0, 1.0], vgg, size=32, progress=True)
    assert "/2 [" in capsys.readouterr().err


@pytest.mark.slow  # runs completion's slow paths
@pytest.mark.filterwarnings("ignore:VGG16 has random weights")
def test_python_api_completion_bars_are_opt_in(capsys, tiny_completion_model, tmp_path):
    from dynamicnet.apps.completion.critic import AlphaCritic
    from dynamicnet.apps.completion.evaluate import evaluate_alphas
    from dynamicnet.apps.completion.metrics import PERCEPTUAL_TAPS
    from dynamicnet.apps.completion.pipeline import CompletionPipeline
    from dynamicnet.data.io import load_image
    from dynamicnet.losses import load_vgg16

    pipe = CompletionPipeline.from_pretrained(tiny_completion_model)
    pipe.vgg = load_vgg16("random", taps=PERCEPTUAL_TAPS)
    image = load_image(_photo(tmp_path / "p.png", h=40, w=40)).rgb
    pipe.sweep(image, None, [0.0, 1.0])
    pipe.auto_alpha(image)
    evaluate_alphas(pipe, [image], [0.0, 1.0], pipe.vgg, hole=16, auto=False)
    assert capsys.readouterr().err == ""
    pipe.sweep(image, None, [0.0, 1.0], progress=True)
    assert "/2 [" in capsys.readouterr().err
    pipe.auto_alpha(image, progress=True)  # uncalibrated: the proxy criterion, a bar over its proxy regions
    err = capsys.readouterr().err
    assert "auto α: " in err and re.search(r"/\d+ \[", err)
    grid = (0.0, 0.5, 1.0)  # a critic (what the bundled model has) fills the hole once per α of its grid
    pipe.config["extra"]["auto_alpha"] = AlphaCritic(
        grid, (0.0,) * 11, (1.0,) * 11, ((0.0,) * 3,) * 11, (0.0,) * 3
    ).to_dict()
    pipe.auto_alpha(image, progress=True)
    err = capsys.readouterr().err
    assert "auto α: " in err and "/3 [" in err
    evaluate_alphas(pipe, [image], [0.0, 1.0], pipe.vgg, hole=16, auto=False, progress=True)
    assert "/1 [" in capsys.readouterr().err


def test_there_and_back_animations_reuse_the_frames_there(capsys, monkeypatch, tiny_style_model, tmp_path):
    from dynamicnet.apps.dcgan.pipeline import DCGANPipeline
    from dynamicnet.apps.style.pipeline import StyleSession

    rendered = []
    render = StyleSession.render
    monkeypatch.setattr(
        StyleSession, "render", lambda self, a, *k, **kw: rendered.append(a) or render(self, a, *k, **kw)
    )
    gif = tmp_path / "w.gif"
    code, _, err = run_cli(
        capsys,
        "sweep",
        _photo(tmp_path / "p.png"),
        "--model",
        tiny_style_model,
        "--alphas",
        "0,1",
        "-o",
        tmp_path / "s.png",
        "--gif",
        gif,
        "--frames",
        "4",
    )
    assert code == 0, err
    assert len(rendered) == 2 + 4  # the sheet's two columns and the walk there; the way back is not rendered again
    with Image.open(gif) as im:
        assert im.n_frames == 4 + 2
    drawn = []
    generate = DCGANPipeline.generate
    monkeypatch.setattr(DCGANPipeline, "generate", lambda self, z, a=0.0: drawn.append(a) or generate(self, z, a))
    code, _, err = run_cli(
        capsys,
        "generate",
        "--n",
        "2",
        "-o",
        tmp_path / "g.png",
        "--gif",
        tmp_path / "g.gif",
        "--frames",
        "5",
        "--device",
        "cpu",
    )
    assert code == 0, err
    assert len(drawn) == 1 + 5
