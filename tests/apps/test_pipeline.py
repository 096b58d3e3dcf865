"""The contract every application's pipeline shares (apps/pipeline.py): one way to load, the same refusals."""

import pytest

from dynamicnet.apps.completion.pipeline import CompletionPipeline
from dynamicnet.apps.dcgan.pipeline import DCGANPipeline
from dynamicnet.apps.pipeline import PIPELINES, Pipeline, pipeline_class
from dynamicnet.apps.style.pipeline import StylePipeline
from dynamicnet.core import read_config
from dynamicnet.errors import DynamicNetError


def test_every_application_has_a_pipeline_class_and_an_unknown_one_is_one_line():
    assert {a: pipeline_class(a) for a in PIPELINES} == {
        "style": StylePipeline,
        "completion": CompletionPipeline,
        "dcgan": DCGANPipeline,
    }
    assert all(issubclass(c, Pipeline) and c.application == a for a, c in ((a, pipeline_class(a)) for a in PIPELINES))
    with pytest.raises(DynamicNetError, match="no pipeline for a 'audio' model"):
        pipeline_class("audio")


def test_one_way_to_load_every_application(tiny_style_model, tiny_completion_model):
    for folder in (tiny_style_model, tiny_completion_model):
        application = read_config(folder)["application"]
        pipe = pipeline_class(application).from_pretrained(folder)
        assert pipe.application == application and not pipe.model.training and str(pipe.device) == "cpu"
        assert pipe.alpha_range == tuple(read_config(folder)["dynamic"].get("alpha_range", (0.0, 1.0)))
        assert pipe.num_blocks == len(read_config(folder)["dynamic"]["insertion_points"])
    capped = CompletionPipeline.from_pretrained(tiny_completion_model, max_side=32)  # the application's options
    assert capped.max_side == 32
    with pytest.raises(DynamicNetError, match="max_side must be at least 8"):
        CompletionPipeline.from_pretrained(tiny_completion_model, max_side=4)


def test_a_folder_of_another_application_is_refused(tiny_style_model, tiny_completion_model):
    with pytest.raises(DynamicNetError, match="expected a completion model, got a 'style' model"):
        CompletionPipeline.from_pretrained(tiny_style_model)
    with pytest.raises(DynamicNetError, match="expected a style model, got a 'completion' model"):
        StylePipeline.from_pretrained(tiny_completion_model)
    with pytest.raises(DynamicNetError, match="StylePipeline.from_pretrained needs a model name or folder"):
        StylePipeline.from_pretrained()


def test_dcgan_loads_its_bundled_model_by_default():
    assert DCGANPipeline.default_model == "fashion-sneaker-boot"
    assert DCGANPipeline.from_pretrained().application == "dcgan"
