"""The DC-GAN pipeline's session: the demo's slider over fixed z."""

import torch


def test_session_renders_what_generate_gives():
    from dynamicnet.apps.dcgan.pipeline import DCGANPipeline

    pipe = DCGANPipeline.from_pretrained()
    session = pipe.session(6, seed=4)
    for alpha in (0.0, 0.4, 1.0):
        assert torch.allclose(session.render(alpha), pipe.generate(pipe.noise(6, 4), alpha), atol=1e-6)
