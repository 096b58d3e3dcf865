import os

import pytest

# Keep runs reproducible and light on the 2-core CI machine (set before anything imports torch).
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="session")
def tiny_style_model(tmp_path_factory):
    from factories import make_tiny_style_model

    return make_tiny_style_model(tmp_path_factory.mktemp("models") / "tiny")
