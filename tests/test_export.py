"""ONNX export with α as a graph input: parity with PyTorch in onnxruntime, and clean failures."""

import numpy as np
import pytest
import torch
from cli_utils import run_cli

from dynamicnet.apps.style.pipeline import StylePipeline
from dynamicnet.core import load_pretrained

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")


def _session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.slow
def test_style_export_moves_the_slider_with_no_python(capsys, tiny_style_model, tmp_path):
    out = tmp_path / "m.onnx"
    code, stdout, err = run_cli(capsys, "export", tiny_style_model, "-o", out)
    assert code == 0, err
    assert stdout.strip() == str(out) and not [p for p in tmp_path.iterdir() if p != out]  # one file, no sidecar
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["dynamicnet.application"] == "style" and meta["dynamicnet.sets"] == '["higher"]'
    sess = _session(out)
    pipe = StylePipeline.from_pretrained(tiny_style_model)
    net = pipe.model
    rng = torch.Generator().manual_seed(0)
    for h, w in ((37, 50), (64, 64), (21, 17)):  # odd sizes go through the pipeline's padding
        image = torch.rand(3, h, w, generator=rng)
        batch, _ = pipe.prepare(image)
        for alpha in (0.0, 0.5, 1.0, 1.7, [0.0, 1.0, 0.3]):
            a = net.alpha_matrix(alpha).numpy()
            got = sess.run(None, {"image": batch.numpy(), "alpha": a})[0]
            with torch.no_grad():
                ref = net(batch, alpha=alpha).clamp(0, 1).numpy()
            assert np.abs(got - ref).max() <= 1e-4, (h, w, alpha)
    # α = 0 is θ, and batches larger than the example's work
    x = torch.rand(3, 3, 32, 40, generator=rng)
    got = sess.run(None, {"image": x.numpy(), "alpha": np.zeros((1, 3), np.float32)})[0]
    with torch.no_grad():
        assert np.abs(got - net.main(x).clamp(0, 1).numpy()).max() <= 1e-5


@pytest.mark.slow
def test_dual_export_has_a_row_per_set(tmp_path):
    from dynamicnet.export import export_onnx
    from dynamicnet.models import bundled_models

    if "starry-dual" not in bundled_models():
        pytest.skip("no dual model bundled")
    out = export_onnx("starry-dual", tmp_path / "d.onnx")
    net, _ = load_pretrained(bundled_models()["starry-dual"])
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    sess = _session(out)
    for alpha in (-1.0, -0.4, 0.6):
        got = sess.run(None, {"image": x.numpy(), "alpha": net.alpha_matrix(alpha).numpy()})[0]
        with torch.no_grad():
            assert np.abs(got - net(x, alpha=alpha).clamp(0, 1).numpy()).max() <= 1e-4


@pytest.mark.slow  # two exports and their runtime checks (about 20 s)
def test_completion_and_dcgan_exports_keep_their_contracts(tmp_path):
    from dynamicnet.export import export_onnx
    from dynamicnet.models import bundled_models

    models = bundled_models()
    if "completion-photos" in models:
        sess = _session(export_onnx("completion-photos", tmp_path / "c.onnx"))
        image = np.random.default_rng(0).random((2, 3, 48, 64), dtype=np.float32)
        mask = np.zeros((2, 1, 48, 64), np.float32)
        mask[..., 12:36, 16:48] = 1
        for a in (0.0, 1.0):
            out = sess.run(None, {"image": image, "mask": mask, "alpha": np.full((1, 3), a, np.float32)})[0]
            assert np.array_equal(out[:, :, :12], image[:, :, :12])  # known pixels exact
            assert not np.allclose(out[..., 12:36, 16:48], image[..., 12:36, 16:48])
    if "fashion-sneaker-boot" in models:
        sess = _session(export_onnx("fashion-sneaker-boot", tmp_path / "g.onnx"))
        z = np.random.default_rng(0).standard_normal((5, 100, 1, 1)).astype(np.float32)
        a0, a1 = (sess.run(None, {"z": z, "alpha": np.full((1, 1), a, np.float32)})[0] for a in (0.0, 1.0))
        assert a0.shape == (5, 1, 32, 32) and a0.min() >= 0 and a0.max() <= 1 and not np.allclose(a0, a1)


@pytest.mark.slow  # exports three completion networks at several sizes (about 30 s)
@pytest.mark.parametrize("hole_fill", ["grey", "push-pull", "march"])
def test_completion_export_matches_pytorch_at_any_size(tmp_path, hole_fill):
    """The hole prefill is part of the graph: the push-pull pyramid has a fixed depth and the marching prefill a
    fixed number of rings, so sizes other than the example's trace to the same result as PyTorch."""
    from dynamicnet.apps.completion.model import ARCHITECTURE, composite, masked_input, to_prediction
    from dynamicnet.apps.completion.recipe import builtin_recipes
    from dynamicnet.apps.completion.train import build_model
    from dynamicnet.core.checkpoint import save_pretrained
    from dynamicnet.export import export_onnx

    torch.manual_seed(0)
    net = build_model(builtin_recipes()["photos"].with_overrides(width=4, dilations=(1, 2, 1)))
    for p in net.parameters():
        p.data.normal_(0, 0.1)
    folder = save_pretrained(
        net,
        tmp_path / "m",
        application="completion",
        architecture={"name": ARCHITECTURE, "kwargs": {"width": 4, "dilations": [1, 2, 1]}},
        objectives={"main": {}, "higher": {}},
        alpha_range=(0.0, 1.0),
        extra={"size": 16, "hole": 8, "hole_fill": hole_fill},
    )
    sess = _session(export_onnx(folder, tmp_path / "c.onnx"))
    rng = torch.Generator().manual_seed(0)
    for h, w in ((48, 64), (128, 96)):
        image = torch.rand(2, 3, h, w, generator=rng)
        mask = torch.zeros(2, 1, h, w)
        mask[..., h // 4 : h // 2, w // 3 : w // 2 + 5] = 1
        for a in (0.0, 0.7):
            alpha = np.full((1, 3), a, np.float32)
            got = sess.run(None, {"image": image.numpy(), "mask": mask.numpy(), "alpha": alpha})[0]
            with torch.no_grad():
                x = masked_input(image, mask, hole_fill)
                pred = to_prediction(net(x, alpha=a), x, hole_fill).clamp(0, 1)
            assert np.abs(got - composite(image, mask, pred).numpy()).max() <= 1e-4, (h, w, a)


def test_export_failures_write_nothing(capsys, tiny_style_model, tmp_path, monkeypatch):
    code, _, err = run_cli(capsys, "export", tiny_style_model, "-o", tmp_path / "m.onx")
    assert code == 1 and "unsupported extension" in err

    def broken(*args, **kwargs):
        raise RuntimeError("graph check failed")

    monkeypatch.setattr(onnx.checker, "check_model", broken)
    code, _, err = run_cli(capsys, "export", tiny_style_model, "-o", tmp_path / "m.onnx")
    assert code == 1 and "onnx.checker" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
