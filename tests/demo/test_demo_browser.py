"""The demo in real headless Chromium: upload, slide, compare the pixels with the library's output."""

import base64
import re
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from dynamicnet.apps.style.pipeline import StylePipeline
from dynamicnet.data.io import load_image

pytestmark = pytest.mark.browser

PHOTO = str(Path(__file__).resolve().parents[2] / "src/dynamicnet/data/photos/astronaut.jpg")
# Pixels travel as base64 of the RGBA bytes: a JSON array of a 512² grid's million numbers took Playwright's
# message validation ~15 s per read.
_RGBA_B64 = """(c) => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let s = '';
  for (let i = 0; i < d.length; i += 0x8000) s += String.fromCharCode.apply(null, d.subarray(i, i + 0x8000));
  return {w: c.width, h: c.height, data: btoa(s)}; }"""
READ_PIXELS = f"""(id) => {{ const img = document.getElementById(id); const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight; c.getContext('2d').drawImage(img, 0, 0);
  return ({_RGBA_B64})(c); }}"""
READ_CANVAS = _RGBA_B64


def _rgb(px) -> torch.Tensor:
    rgba = np.frombuffer(base64.b64decode(px["data"]), dtype=np.uint8).reshape(px["h"], px["w"], 4)
    return torch.from_numpy(rgba[..., :3].astype(np.float32) / 255).permute(2, 0, 1)


def shown(page, img_id="style-result") -> torch.Tensor:
    return _rgb(page.evaluate(READ_PIXELS, img_id))


def canvas(page, expression) -> torch.Tensor:
    """The RGB pixels of the canvas ``expression`` evaluates to, e.g. the photo the completion tab uploads."""
    return _rgb(page.evaluate(f"() => ({READ_CANVAS})({expression})"))


def wait_full(page, alpha, img_id="style-result"):
    page.wait_for_function(
        "([id, a]) => { const i = document.getElementById(id); return i.dataset.kind === 'full' && "
        "i.dataset.alpha !== undefined && JSON.stringify(JSON.parse(i.dataset.alpha)) === JSON.stringify(a); }",
        arg=[img_id, alpha],
        timeout=30_000,
    )


def slide(page, selector, value):
    page.eval_on_selector(
        selector, "(s, v) => { s.value = v; s.dispatchEvent(new Event('input', {bubbles: true})); }", str(value)
    )


@pytest.fixture(scope="module")
def pipe(demo_style_model):
    return StylePipeline.from_pretrained(demo_style_model)


def expected(pipe, alpha):
    return pipe(load_image(PHOTO).rgb, alpha=alpha, max_side=128)


def assert_matches(got, want):
    assert got.shape == want.shape
    diff = (got - want).abs()  # final frames come as PNG: only 8-bit rounding separates them
    assert diff.max() <= 1 / 255 + 1e-6, (diff.mean().item(), diff.max().item())


def test_upload_and_slide_shows_the_library_output(page, pipe):
    page.set_input_files("#style-file", PHOTO)
    wait_full(page, 0.0)
    at_zero = shown(page)
    assert_matches(at_zero, expected(pipe, 0.0))
    slide(page, "#alpha", 0.7)
    wait_full(page, 0.7)
    moved = shown(page)
    assert (moved - at_zero).abs().mean() > 0.02  # the picture changed
    assert_matches(moved, expected(pipe, 0.7))
    assert "full" in page.inner_text("#latency") and "ms" in page.inner_text("#latency")


def test_dual_model_slider_goes_negative(page, pipe):
    assert page.get_attribute("#alpha", "min") == "-1"
    # the ends say what they mean, in words (the test model's three objectives share one style image, so
    # thumbnails of it would say nothing: none are shown)
    ends = page.inner_text("#alpha ~ .ends")
    assert "α = -1: Starry Night" in ends and "α = 0: Starry Night" in ends and "α = 1: Starry Night" in ends
    assert page.is_hidden("#style-thumbs")
    assert page.inner_text("#device") == "running on cpu"
    page.set_input_files("#style-file", PHOTO)
    wait_full(page, 0.0)
    slide(page, "#alpha", -0.6)
    assert page.inner_text("#alpha-value") == "-0.6"  # the value, next to the slider
    wait_full(page, -0.6)
    assert_matches(shown(page), expected(pipe, -0.6))


def test_per_block_sliders(page, pipe):
    page.set_input_files("#style-file", PHOTO)
    wait_full(page, 0.0)
    page.check("#per-block")
    sliders = page.locator("#block-sliders input")
    assert sliders.count() == 3
    slide(page, "#block-sliders input[data-block='2']", 0.9)
    wait_full(page, [0.0, 0.0, 0.9])
    assert_matches(shown(page), expected(pipe, [0.0, 0.0, 0.9]))


def test_bad_upload_shows_an_error_and_the_page_keeps_working(page, pipe, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("this is not a picture")
    page.set_input_files("#style-file", str(bad))
    page.wait_for_selector("#error:not([hidden])")
    assert "notes.png" in page.inner_text("#error")
    page.set_input_files("#style-file", PHOTO)
    wait_full(page, 0.0)
    assert page.is_hidden("#error")
    assert_matches(shown(page), expected(pipe, 0.0))


def test_rapid_slider_moves_are_coalesced(page, pipe):
    page.set_input_files("#style-file", PHOTO)
    wait_full(page, 0.0)
    before = page.evaluate("window.dn.renders")
    for i in range(1, 31):
        slide(page, "#alpha", round(i / 30, 2))
    wait_full(page, 1.0)
    renders = page.evaluate("window.dn.renders") - before
    assert renders < 60  # 30 moves × (preview + full) would be 60 renders without coalescing
    assert_matches(shown(page), expected(pipe, 1.0))


def test_webcam_frame_with_fake_device(page):
    page.click("#webcam-start")
    page.wait_for_function("document.getElementById('webcam').videoWidth > 0", timeout=15_000)
    page.click("#webcam-capture")
    wait_full(page, 0.0)
    img = shown(page)
    assert img.shape[0] == 3 and max(img.shape[1:]) <= 128 and img.std() > 0.01


def test_download_link_gives_a_png(page):
    page.set_input_files("#style-file", PHOTO)
    wait_full(page, 0.0)
    with page.expect_download() as info:
        page.click("#download")
    path = info.value.path()
    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dcgan_tab_slider_changes_the_grid_of_fixed_samples(page):
    import math

    import torch.nn.functional as F

    from dynamicnet.apps.dcgan.pipeline import DCGANPipeline
    from dynamicnet.data.figures import image_grid

    if page.locator("#tab-button-dcgan").count() == 0:
        pytest.skip("no DC-GAN model bundled")
    page.click("#tab-button-dcgan")
    assert page.inner_text("#dcgan-alpha ~ .ends") == "α = 0: sneaker · α = 1: ankle boot"
    page.fill("#dcgan-seed", "7")
    page.dispatch_event("#dcgan-seed", "change")
    wait_full(page, 0.0, "dcgan-result")
    slide(page, "#dcgan-alpha", 1.0)
    wait_full(page, 1.0, "dcgan-result")
    pipe = DCGANPipeline.from_pretrained("fashion-sneaker-boot")
    z = pipe.noise(16, 7)
    zoom = max(1, 128 // pipe.image_size)
    images = F.interpolate(pipe.generate(z, 1.0).expand(-1, 3, -1, -1), scale_factor=zoom, mode="nearest")
    want = image_grid(images, nrow=math.ceil(math.sqrt(16)))
    assert_matches(shown(page, "dcgan-result"), want)
    slide(page, "#dcgan-alpha", 0.0)
    wait_full(page, 0.0, "dcgan-result")
    assert (shown(page, "dcgan-result") - want).abs().mean() > 0.01  # α moved the samples


def test_completion_tab_fills_the_hole_and_suggests_alpha(page):
    from dynamicnet.apps.completion.pipeline import CompletionPipeline

    if page.locator("#tab-button-completion").count() == 0:
        pytest.skip("no completion model bundled")
    page.click("#tab-button-completion")
    page.set_input_files("#completion-file", PHOTO)
    wait_full(page, 0.0, "completion-result")
    shown_zero = shown(page, "completion-result")
    pipe = CompletionPipeline.from_pretrained("completion-photos")
    # What the page uploaded: the photo scaled to the working size in its offscreen canvas.
    sent = canvas(page, "completion.image")
    known = (1 - pipe.default_mask(*sent.shape[-2:])).bool().expand(3, -1, -1)
    assert_matches(shown_zero, pipe(sent, alpha=0.0))
    assert torch.equal(shown_zero[known], sent[known])  # known pixels come back untouched
    slide(page, "#completion-alpha", 1.0)
    wait_full(page, 1.0, "completion-result")
    at_one = shown(page, "completion-result")
    assert_matches(at_one, pipe(sent, alpha=1.0))
    assert (at_one - shown_zero).abs()[~known].mean() > 0.002  # α changed the fill
    page.click("#completion-auto")
    page.wait_for_function(
        "document.getElementById('completion-suggested').textContent.includes('α =')", timeout=60_000
    )
    page.select_option("#completion-mask", "draw")
    box = page.locator("#completion-canvas").bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + 60, box["y"] + 40)
    page.mouse.up()
    page.click("#completion-apply")
    page.wait_for_function(
        "window.dn.events.filter(e => e.tab === 'completion' && e.kind === 'full').length >= 4", timeout=30_000
    )
    assert page.is_hidden("#error")


def test_example_photos_work_before_any_upload_and_a_failed_upload_clears_the_result(page, pipe, tmp_path):
    from dynamicnet.data.assets import bundled_photo

    wait_full(page, 0.0)  # the first example photo, stylised with no upload at all
    names = page.eval_on_selector_all("#style-examples .example", "bs => bs.map(b => b.dataset.example)")
    assert names == ["astronaut", "coffee", "rocket"]
    assert page.evaluate("[...document.querySelectorAll('.example img')].every(i => i.complete && i.naturalWidth > 0)")
    coffee = pipe(load_image(bundled_photo("coffee")).rgb, alpha=0.0, max_side=128)
    page.click("#style-examples .example[data-example='coffee']")
    # The click fetches the photo first: wait for the coffee's own final frame (its shape), not the astronaut's.
    page.wait_for_function(
        "([h, w]) => { const i = document.getElementById('style-result'); return i.dataset.kind === 'full' && "
        "i.naturalHeight === h && i.naturalWidth === w; }",
        arg=list(coffee.shape[-2:]),
        timeout=30_000,
    )
    assert_matches(shown(page), coffee)
    bad = tmp_path / "notes.png"
    bad.write_text("this is not a picture")
    page.set_input_files("#style-file", str(bad))
    page.wait_for_selector("#error:not([hidden])")
    assert page.get_attribute("#style-result", "src") is None  # the coffee is not shown as this file's result


def test_completion_input_shows_the_hole_and_the_ends_of_alpha(page):
    from dynamicnet.apps.completion.pipeline import CompletionPipeline
    from dynamicnet.core.checkpoint import read_config
    from dynamicnet.demo.apps import objective_labels
    from dynamicnet.models import bundled_models

    if page.locator("#tab-button-completion").count() == 0:
        pytest.skip("no completion model bundled")
    page.click("#tab-button-completion")
    wait_full(page, 0.0, "completion-result")  # the first example photo, with the default hole
    page.wait_for_function("document.getElementById('completion-canvas').dataset.hole === 'shown'")
    sent, view = canvas(page, "completion.image"), canvas(page, "document.getElementById('completion-canvas')")
    hole = CompletionPipeline.from_pretrained("completion-photos").default_mask(*sent.shape[-2:]).bool()
    hole = hole.expand(3, -1, -1)
    assert hole.any() and (view[hole] - 128 / 255).abs().max() <= 1 / 255  # the hole, painted grey
    assert torch.equal(view[~hole], sent[~hole])  # the rest is the photo
    labels = objective_labels(read_config(bundled_models()["completion-photos"]))
    assert page.inner_text("#completion-alpha ~ .ends") == f"α = 0: {labels['main']} · α = 1: {labels['higher']}"
    slide(page, "#completion-alpha", 0.3)
    assert page.inner_text("#completion-alpha-value") == "0.3"
    wait_full(page, 0.3, "completion-result")
    # A drawn hole replaces the default one once applied: the centre square shows the photo again.
    page.select_option("#completion-mask", "draw")
    box = page.locator("#completion-canvas").bounding_box()
    page.mouse.move(box["x"] + 10, box["y"] + 10)
    page.mouse.down()
    page.mouse.move(box["x"] + 40, box["y"] + 12, steps=10)
    page.mouse.up()
    page.click("#completion-apply")
    page.wait_for_function(
        "document.getElementById('completion-canvas').dataset.hole === 'shown' && "
        "document.getElementById('completion-result').dataset.kind === 'full'"
    )
    view = canvas(page, "document.getElementById('completion-canvas')")
    assert torch.equal(view[hole], sent[hole])
    drawn = view[:, 11, 25]  # grey under the red tint of the strokes
    assert drawn[0] > drawn[1] + 0.2 and (drawn[1] - 64 / 255).abs() < 0.02


def test_auto_alpha_shows_its_progress_while_another_users_slider_stays_fast(page, browser, server):
    if page.locator("#tab-button-completion").count() == 0:
        pytest.skip("no completion model bundled")
    base, app = server
    page.click("#tab-button-completion")
    wait_full(page, 0.0, "completion-result")
    key = page.evaluate("completion.renderer.session")
    session = app.state.store.get(key)
    real, release = session.actions["auto"], threading.Event()

    def long_auto():  # the real auto α again and again until the test is done: a long job that computes
        result = real()
        while not release.is_set():
            result = real()
        return result

    session.actions["auto"] = long_auto
    try:
        worker_free = threading.Event()  # another user's job holds the pool's only worker at first
        ahead = app.state.jobs.submit("another user", "auto", lambda: worker_free.wait(60))
        progress = "document.getElementById('completion-suggested').textContent"
        page.click("#completion-auto")
        assert page.is_disabled("#completion-auto")
        page.wait_for_function(f"{progress}.includes('waiting for 1 other job')")
        worker_free.set()
        ahead.result(30)
        page.wait_for_function(f"/… \\d+ s$/.test({progress})", timeout=30_000)  # running, for how long
        first = int(re.search(r"(\d+) s$", page.evaluate(progress)).group(1))

        context = browser.new_context(viewport={"width": 1300, "height": 1000})  # another user, another session
        other = context.new_page()
        other.goto(base)
        other.wait_for_function("window.dn && window.dn.ready")
        wait_full(other, 0.0, "style-result")
        before = other.evaluate("window.dn.events.length")
        for alpha in (0.2, 0.4, 0.6, 0.8, 1.0):
            slide(other, "#alpha", alpha)
            wait_full(other, alpha)
        took = other.evaluate(f"window.dn.events.slice({before}).filter(e => e.kind === 'full').map(e => e.ms)")
        context.close()
        # Every α rendered in full while the job ran all along: none waited for it (the latency is
        # benchmarks/bench_demo_latency.py's business).
        assert app.state.jobs.status(key)["state"] == "running"
        assert len(took) >= 5, took
        page.wait_for_function(f"parseInt({progress}.match(/(\\d+) s$/)[1]) > {first}", timeout=30_000)
    finally:
        release.set()  # the job ends now (and a failed check does not leave it looping past the test)
    page.wait_for_function(f"{progress}.startsWith('suggested α =')", timeout=120_000)
    assert page.is_enabled("#completion-auto") and page.is_hidden("#error")
