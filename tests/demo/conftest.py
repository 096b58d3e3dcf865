"""A live demo server (uvicorn in a thread) and real headless Chromium driven by Playwright."""

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]


@pytest.fixture(scope="session")
def demo_style_model(tmp_path_factory):
    """A tiny random dual style model: fast to render, and every block visibly changes the output."""
    from factories import make_tiny_style_model

    style = {"style": "starry_night"}
    return make_tiny_style_model(
        tmp_path_factory.mktemp("demo") / "tiny-dual",
        "dual",
        alpha_range=(-1, 1),
        objectives={"main": style, "higher": style, "lower": style},
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


DCGAN_MODEL = "fashion-sneaker-boot"


@pytest.fixture(scope="session")
def demo_models(demo_style_model):
    """Model folders the test server serves: a tiny style model and the bundled generative models."""
    from dynamicnet.models import bundled_models

    return [str(demo_style_model), *[m for m in (DCGAN_MODEL, "completion-photos") if m in bundled_models()]]


@pytest.fixture(scope="session")
def server(demo_models):
    import uvicorn

    from dynamicnet.demo.server import create_app, http_protocol

    app = create_app(demo_models, max_side=128)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", http=http_protocol()))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started:
        assert time.time() < deadline, "demo server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed (make test installs it: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, server, request):
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    context.grant_permissions(["camera"])
    pg = context.new_page()
    pg.goto(server[0])
    pg.wait_for_function("window.dn && window.dn.ready")
    yield pg
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
