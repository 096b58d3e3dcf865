"""Inference engines: the same outputs as eager PyTorch (1e-4) through every installed engine, for every α form,
through the fast α-change path, in every application; one clear line for an engine that cannot run."""

import importlib.util
import subprocess
import sys

import pytest
import torch
from factories import make_tiny_style_model

from dynamicnet import engines
from dynamicnet.apps.style.pipeline import StylePipeline
from dynamicnet.engines import Runtime, resolve_engine
from dynamicnet.errors import DynamicNetError

GRAPH_ENGINES = [e for e in ("onnxruntime", "openvino") if importlib.util.find_spec(e) is not None]
needs_graph_engine = pytest.mark.skipif(not GRAPH_ENGINES, reason="no graph engine installed")


@pytest.fixture(scope="module")
def dual(tmp_path_factory):
    folder = make_tiny_style_model(tmp_path_factory.mktemp("m") / "dual", recipe="dual", alpha_range=(-1.0, 1.0))
    return StylePipeline.from_pretrained(folder)


@pytest.mark.slow
@pytest.mark.parametrize("engine", GRAPH_ENGINES)
def test_forward_and_prepared_match_eager_for_every_alpha_form(dual, engine):
    runtime = Runtime(dual.model, engine)
    x = torch.rand(2, 3, 36, 44, generator=torch.Generator().manual_seed(0))  # batch 2, a non-square size
    prepared = runtime.prepare(x)
    for alpha in (0.0, 0.7, -0.6, 1.3, [0.2, -0.5, 1.0], {"higher": [1.0, 0.0, 0.5], "lower": [0.0, 0.3, 0.0]}):
        with torch.no_grad():
            ref = dual.model(x, alpha=alpha)
        assert torch.allclose(runtime.forward(x, alpha), ref, atol=1e-4), (engine, alpha)
        assert torch.allclose(prepared(alpha), ref, atol=1e-4), (engine, alpha)
    # one side of the slider at a time runs a graph without the other side's blocks; mixed α, one with both
    assert dual.model.set_names == ("higher", "lower")
    assert sorted(runtime._tail) == sorted(runtime._full) == [(0,), (0, 1), (1,)]
    other = torch.rand(1, 3, 64, 20)  # one graph serves every size
    with torch.no_grad():
        assert torch.allclose(runtime.forward(other, 0.5), dual.model(other, alpha=0.5), atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("engine", GRAPH_ENGINES)
def test_every_application_pipeline_runs_on_the_engine(engine, tmp_path):
    from dynamicnet.apps.completion.pipeline import CompletionPipeline
    from dynamicnet.apps.dcgan.pipeline import DCGANPipeline

    a, b = DCGANPipeline.from_pretrained(), DCGANPipeline.from_pretrained(engine=engine)
    assert torch.allclose(a(4, 0.6, seed=3), b(4, 0.6, seed=3), atol=1e-4)
    a, b = (CompletionPipeline.from_pretrained("completion-photos", engine=e) for e in ("torch", engine))
    image = torch.rand(3, 90, 70, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(a(image, alpha=0.3), b(image, alpha=0.3), atol=1e-4)
    style = StylePipeline.from_pretrained("starry-fast", engine=engine)
    session, ref = style.session(image, preview_side=None), StylePipeline.from_pretrained("starry-fast")(image, 0.4)
    assert torch.allclose(session.render(0.4), ref, atol=1e-4)


@pytest.mark.slow
def test_torch_compile_matches_eager(dual):
    runtime = Runtime(dual.model, "compile")
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():  # one graph (each compiles for tens of seconds): the tail is the same code path
        assert torch.allclose(runtime.forward(x, -0.5), dual.model(x, alpha=-0.5), atol=1e-4)


def test_engine_choice_and_its_errors(monkeypatch):
    from dynamicnet.cli.common import ENGINE_CHOICES

    assert (*engines.ENGINES, "auto") == ENGINE_CHOICES  # the CLI's torch-free copy of the list
    assert resolve_engine("torch") == "torch"
    with pytest.raises(DynamicNetError, match="unknown engine 'tensorrt'"):
        resolve_engine("tensorrt")
    monkeypatch.setattr(engines, "engine_installed", lambda name: name in ("torch", "compile", "onnxruntime"))
    assert resolve_engine("auto") == "onnxruntime"  # the fastest installed; openvino is missing here
    with pytest.raises(
        DynamicNetError, match=r"engine 'openvino' is not installed: pip install 'dynamicnet\[openvino\]'"
    ):
        resolve_engine("openvino")
    assert resolve_engine("auto", "cuda") == "torch"
    with pytest.raises(DynamicNetError, match="runs on the CPU"):
        resolve_engine("onnxruntime", "cuda")
    monkeypatch.setattr(engines, "engine_installed", lambda name: name in ("torch", "compile"))
    assert resolve_engine("auto") == "torch"


@pytest.mark.slow  # CLI runs that build a graph engine
@needs_graph_engine
def test_cli_engine_gives_the_same_image_and_a_missing_engine_one_line(tmp_path):
    photo = tmp_path / "in.png"
    from PIL import Image

    Image.fromarray((torch.rand(40, 56, 3).numpy() * 255).astype("uint8")).save(photo)
    outs = {}
    for engine in ("torch", GRAPH_ENGINES[0]):
        out = tmp_path / f"{engine}.png"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "dynamicnet",
                "stylize",
                str(photo),
                "--model",
                "starry-fast",
                "--alpha",
                "0.5",
                "-o",
                str(out),
                "--engine",
                engine,
                "--device",
                "cpu",
            ],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr
        outs[engine] = torch.from_numpy(__import__("numpy").array(Image.open(out))).int()
    assert int((outs["torch"] - outs[GRAPH_ENGINES[0]]).abs().max()) <= 1  # PNG rounding of a 1e-4 difference
    code = (
        "import sys, dynamicnet.engines as e; e.engine_installed = lambda n: n in ('torch', 'compile'); "
        "from dynamicnet.cli.main import main; sys.exit(main(sys.argv[1:]))"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "stylize",
            str(photo),
            "-o",
            str(tmp_path / "x.png"),
            "--engine",
            "openvino",
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0 and not (tmp_path / "x.png").exists()
    assert proc.stderr.strip().splitlines() == [
        "dynamicnet: error: engine 'openvino' is not installed: pip install 'dynamicnet[openvino]'"
    ]
