"""The bundled Fashion-MNIST model does what it claims, measured by its bundled attribute classifier."""

from __future__ import annotations

import pytest
import torch

from dynamicnet.apps.dcgan.classifier import load_classifier, predict
from dynamicnet.apps.dcgan.pipeline import DEFAULT_MODEL, DCGANPipeline
from dynamicnet.data.fashion_mnist import DEBIAN_DIR
from dynamicnet.models import bundled_models

pytestmark = pytest.mark.slow

ALPHAS = [0.0, 0.25, 0.5, 0.75, 1.0]


@pytest.fixture(scope="module")
def pipe():
    if DEFAULT_MODEL not in bundled_models():
        pytest.fail(f"the bundled model {DEFAULT_MODEL} is missing")
    return DCGANPipeline.from_pretrained(DEFAULT_MODEL)


@pytest.fixture(scope="module")
def classifier():
    return load_classifier(DEFAULT_MODEL)


def test_bundled_folder_is_small_and_self_describing(pipe, classifier):
    folder = bundled_models()[DEFAULT_MODEL]
    assert sum(p.stat().st_size for p in folder.iterdir()) < 10 * 2**20
    cfg = pipe.config
    assert cfg["application"] == "dcgan" and "sneaker" in cfg["extra"]["description"]
    assert cfg["provenance"]["command"].startswith("dynamicnet train dcgan")
    assert (pipe.image_size, pipe.channels) == (classifier[0].image_size, classifier[0].channels)
    assert classifier[1]["attribute"] == "label" and classifier[1]["value"] == "sneaker"


def test_o1_fraction_rises_monotonically_with_alpha(pipe, classifier):
    clf, config = classifier
    z = pipe.noise(500, seed=0)
    fractions = [float((predict(clf, pipe.generate(z, a))[1] > 0.5).float().mean()) for a in ALPHAS]
    assert all(b > a for a, b in zip(fractions, fractions[1:])), fractions
    real = config["held_out"]  # how often the classifier calls real sneakers / real boots a boot
    assert fractions[0] < real["o1_rate_on_main"] + 0.1, fractions
    assert fractions[-1] > real["o1_rate_on_tuning"] - 0.15, fractions


def test_alpha_zero_is_the_main_generator(pipe):
    z = pipe.noise(8, seed=1)
    with torch.no_grad():
        assert torch.equal(pipe.model(z, alpha=0.0), pipe.model.main(z))


@pytest.mark.skipif(
    not (DEBIAN_DIR / "t10k-images-idx3-ubyte.gz").is_file(), reason="Debian dataset-fashion-mnist is not installed"
)
def test_samples_stay_close_to_the_real_subsets(pipe, classifier):
    from dynamicnet.apps.dcgan.data import open_source, split_by_attribute
    from dynamicnet.apps.dcgan.evaluate import evaluate_alphas

    real = split_by_attribute(open_source("fashion-mnist", pipe.image_size, role="test"), "label", "sneaker")
    result = evaluate_alphas(pipe, classifier[0], real, [0.0, 0.5, 1.0], n=500, max_real=500)
    start, mid, end = result.points
    scale = result.fd_real_main_tuning  # how far apart the two real subsets are
    assert start.fd_main < 0.05 * scale and end.fd_tuning < 0.05 * scale, result.table()
    assert start.fd_main < mid.fd_main and max(mid.fd_tuning, end.fd_tuning) < start.fd_tuning
