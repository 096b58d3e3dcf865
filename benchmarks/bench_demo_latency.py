"""Slider → new pixels latency in real headless Chromium against the demo server, at 512².

Measures, for each slider move, the time from the ``input`` event to the moment the new image has decoded in
the page — separately for the first (preview) pixels and for the final full-resolution frame — and prints
p50/p95. Needs Debian ``chromium`` and the dev extras (``make test`` installs both).

    python benchmarks/bench_demo_latency.py [--model starry-fast] [--moves 40] [--size 512]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time

import numpy as np
import uvicorn
from PIL import Image
from playwright.sync_api import sync_playwright

from dynamicnet.demo.server import create_app

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHOTO = "src/dynamicnet/data/photos/astronaut.jpg"


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="starry-fast")
    ap.add_argument("--moves", type=int, default=40)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--gap-ms", type=int, default=400, help="time between slider moves")
    ap.add_argument("--port", type=int, default=7871)
    args = ap.parse_args()

    app = create_app([args.model], max_side=args.size)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    with tempfile.NamedTemporaryFile(suffix=".png") as photo:
        Image.open(PHOTO).convert("RGB").resize((args.size, args.size), Image.LANCZOS).save(photo.name)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{args.port}/")
            page.wait_for_function("window.dn && window.dn.ready")
            page.set_input_files("#style-file", photo.name)
            page.wait_for_function("document.getElementById('style-result').dataset.kind === 'full'", timeout=60_000)
            page.evaluate("window.dn.events = []")
            lo, hi = (float(v) for v in page.eval_on_selector("#alpha", "s => [s.min, s.max]"))
            for i in range(args.moves):
                value = round(lo + (hi - lo) * ((i * 7919) % args.moves) / max(1, args.moves - 1), 2)
                page.eval_on_selector(
                    "#alpha", "(s, v) => { s.value = v; s.dispatchEvent(new Event('input')); }", str(value)
                )
                page.wait_for_timeout(args.gap_ms)
            page.wait_for_timeout(2000)
            events = page.evaluate("window.dn.events")
            browser.close()
    server.should_exit = True
    first = [e["ms"] for e in events if e["kind"] == "first"]
    previews = sum(1 for e in events if e["kind"] == "first" and e["preview"])
    full = [e["ms"] for e in events if e["kind"] == "full"]
    print(f"model {args.model}, {args.size}×{args.size}, {args.moves} slider moves {args.gap_ms} ms apart")
    print(f"(first pixels came from a reduced-size preview for {previews} of {len(first)} moves)")
    for label, values in (("first new pixels", first), ("final full-resolution frame", full)):
        print(
            f"{label:<30} n={len(values):3d}  p50 {percentile(values, 50):7.1f} ms  p95 {percentile(values, 95):7.1f} ms"
            f"  mean {statistics.fmean(values) if values else float('nan'):7.1f} ms"
        )


if __name__ == "__main__":
    main()
