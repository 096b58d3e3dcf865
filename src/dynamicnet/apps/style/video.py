"""Stylise a video frame by frame, with α fixed or animated over time (keyframes, linear in between)."""

from __future__ import annotations

import bisect
import contextlib
import math
from pathlib import Path

import numpy as np
import torch

from ...data.animation import h264_writer
from ...errors import DynamicNetError, require
from ...utils.fs import atomic_path
from ...utils.progress import progress as progress_bar
from .pipeline import StylePipeline


def parse_keyframes(text: str) -> list[tuple[float, float]]:
    """``"0:0,5:1"`` → ``[(0.0, 0.0), (5.0, 1.0)]`` (time in seconds : α), sorted by time."""
    frames = []
    for part in text.split(","):
        try:
            t, a = part.split(":")
            if "_" in part:
                raise ValueError(part)
            t_f, a_f = float(t), float(a)
        except ValueError:
            raise DynamicNetError(f"bad --alpha-keyframes entry {part!r}: expected TIME:ALPHA, e.g. 0:0,5:1") from None
        if not (np.isfinite(t_f) and np.isfinite(a_f)) or t_f < 0:
            raise DynamicNetError(f"bad --alpha-keyframes entry {part!r}: time ≥ 0 and α must be finite")
        frames.append((t_f, a_f))
    frames.sort()
    if len({t for t, _ in frames}) != len(frames):
        raise DynamicNetError(f"--alpha-keyframes has repeated times: {text!r}")
    return frames


def alpha_at(keyframes: list[tuple[float, float]], t: float) -> float:
    """α at time ``t``: piecewise linear through the keyframes, constant before the first and after the last."""
    times = [k[0] for k in keyframes]
    i = bisect.bisect_right(times, t)
    if i == 0:
        return keyframes[0][1]
    if i == len(keyframes):
        return keyframes[-1][1]
    (t0, a0), (t1, a1) = keyframes[i - 1], keyframes[i]
    return a0 + (a1 - a0) * (t - t0) / (t1 - t0)


def stylize_video(
    pipe: StylePipeline,
    src: Path,
    dst: Path,
    keyframes: list[tuple[float, float]],
    max_side: int | None = None,
    max_frames: int | None = None,
    work_side: int | None = -1,
    progress: bool | None = False,
) -> int:
    """Read ``src`` with ffmpeg, stylise each frame at α(t), write H.264 ``dst`` atomically; return frame count.

    The source's first audio track, if it has one, is carried over (AAC; cut to the stylised frames' length)."""
    imageio_ffmpeg = require("imageio_ffmpeg", "video", "stylize-video")
    if not src.is_file():
        raise DynamicNetError(f"{src}: no such video file")
    if dst.suffix.lower() not in (".mp4", ".mkv", ".mov", ".avi"):
        raise DynamicNetError(f"{dst}: unsupported video extension (use .mp4)")
    try:
        reader = imageio_ffmpeg.read_frames(str(src))
        meta = next(reader)
    except (RuntimeError, OSError, StopIteration) as exc:
        raise DynamicNetError(f"{src}: cannot read video ({' '.join(str(exc).split())[:200]})") from None
    w, h = meta["size"]
    fps = float(meta.get("fps") or 25.0)
    # Keep the sound: mapped from the source file itself, re-encoded as AAC (what an .mp4 player expects).
    audio = (
        {"audio_path": str(src), "audio_codec": "aac", "output_params": ["-shortest"]}
        if meta.get("audio_codec")
        else {}
    )
    count = 0
    with atomic_path(dst) as tmp, contextlib.ExitStack() as stack:
        stack.callback(reader.close)  # closed after the writer (last in, first out)
        send = None
        n_frames = meta.get("nframes")
        total = None if not isinstance(n_frames, (int, float)) or not math.isfinite(n_frames) else int(n_frames)
        if max_frames is not None:
            total = max_frames if total is None else min(total, max_frames)
        for raw in progress_bar(reader, desc="frames", total=total, unit="frame", enabled=progress):
            if max_frames is not None and count >= max_frames:
                break
            frame = torch.from_numpy(np.frombuffer(raw, np.uint8).reshape(h, w, 3).copy())
            frame = frame.permute(2, 0, 1).float() / 255.0  # (3, H, W)
            out = pipe(frame, alpha=alpha_at(keyframes, count / fps), max_side=max_side, work_side=work_side)
            arr = (out.permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
            if send is None:  # the output size is known once the first frame is stylised
                send = stack.enter_context(
                    h264_writer(tmp, (arr.shape[1], arr.shape[0]), fps=fps, purpose="stylize-video", **audio)
                )
            send(arr)
            count += 1
        if count == 0:
            raise DynamicNetError(f"{src}: the video has no frames")
    return count
