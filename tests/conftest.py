import os

import pytest

# Keep runs reproducible and light on the 2-core CI machine (set before anything imports torch).
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="session")
def tiny_style_model(tmp_path_factory):
    from factories import make_tiny_style_model

    return make_tiny_style_model(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="session")
def tiny_completion_model(tmp_path_factory):
    """A tiny completion model folder whose θ and α visibly change the fill (read-only: copy it to change it)."""
    from factories import make_tiny_completion_model

    return make_tiny_completion_model(tmp_path_factory.mktemp("models") / "tiny-completion")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that skip without a Debian package (their skip reason names Debian or opencv-doc) are marked
    ``needs_debian``, so ``-m "not needs_debian"`` selects what runs on any machine."""
    for item in items:
        for mark in item.iter_markers("skipif"):
            reason = str(mark.kwargs.get("reason", ""))
            if "Debian" in reason or "opencv-doc" in reason:
                item.add_marker(pytest.mark.needs_debian)
                break
