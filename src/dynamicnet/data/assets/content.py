"""The user's cached content folders: registry photos copied (or downscaled) once, with a manifest."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from dynamicnet.data.assets.registry import DEFAULT_CONTENT_SOURCES, LARGE_CONTENT_SOURCES, content_assets
from dynamicnet.errors import DynamicNetError
from dynamicnet.utils.fs import atomic_path, atomic_write_text, cache_dir, sha256_file

MANIFEST_NAME = "MANIFEST.json"
_MANIFEST_VERSION = 1
LARGE_MAX_SIDE = 640


def default_content_dir(
    *, sources: Sequence[str] = DEFAULT_CONTENT_SOURCES, max_side: int | None = None, refresh: bool = False
) -> Path:
    """A folder of freely licensed photos for training without a dataset download; built once, then reused.

    Copies (byte for byte) the photos of ``sources`` that are installed into ``cache_dir()/content`` (or
    ``content-<sources>`` for a non-default selection) and writes ``MANIFEST.json`` listing, per file, the
    source, package, original path, licence and SHA-256. A later call returns the folder as is when its
    manifest matches the requested sources and every listed file is present; ``refresh=True`` rebuilds it
    (e.g. after installing another package). Files are written atomically and the manifest last, so an
    interrupted build is simply redone.

    ``max_side`` stores copies whose longer side is at most that many pixels instead (folder suffix
    ``-<max_side>px``): wallpapers come at 4K, and decoding a 4K PNG for every 128² training crop costs more than
    the training step; training at a fixed working scale also needs no more pixels than that.

    The default set (scikit-image + opencv-doc, see ``SOURCES.md``) is 20 photos when both are installed:
    enough for a demo-quality style model, not a substitute for COCO.

    Raises:
        DynamicNetError: none of the sources is installed (the message says what to install).
    """
    srcs = list(dict.fromkeys(sources))
    folder_name = "content" if tuple(srcs) == DEFAULT_CONTENT_SOURCES else "content-" + "+".join(srcs)
    if max_side is not None:
        if max_side < 16:
            raise DynamicNetError(f"max_side must be at least 16, got {max_side}")
        folder_name += f"-{max_side}px"
    out = cache_dir() / folder_name
    manifest_path = out / MANIFEST_NAME
    if not refresh and _manifest_ok(manifest_path, srcs, max_side):
        return out

    assets = content_assets(srcs)
    if not assets:
        raise DynamicNetError(
            f"no content photos available from {', '.join(srcs)}: install scikit-image (pip install scikit-image) "
            "and/or the Debian package opencv-doc (apt-get install opencv-doc), or train on your own image folder"
        )
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for a in assets:
        target = out / a.name
        with atomic_path(target) as tmp:
            if max_side is None or not _downscaled_copy(a.original, tmp, max_side):
                shutil.copyfile(a.original, tmp)
        entries.append(
            {
                "file": a.name,
                "source": a.source,
                "package": a.package,
                "original": str(a.original),
                "licence": a.licence,
                "sha256": sha256_file(target),
            }
        )
    present = {a.source for a in assets}
    old = _read_manifest(manifest_path)
    if old is not None:  # remove files a previous build listed that this one no longer provides
        keep = {e["file"] for e in entries}
        for e in old.get("files", []):
            f = e.get("file") if isinstance(e, dict) else None
            if isinstance(f, str) and f not in keep and "/" not in f and (out / f).is_file():
                (out / f).unlink()
    manifest = {
        "format_version": _MANIFEST_VERSION,
        "description": "dynamicnet default content photos; see dynamicnet/data/SOURCES.md",
        "sources": srcs,
        "missing_sources": [s for s in srcs if s not in present],
        "max_side": max_side,
        "files": entries,
    }
    atomic_write_text(manifest_path, json.dumps(manifest, indent=2) + "\n")
    return out


def _downscaled_copy(src: Path, dst: Path, max_side: int) -> bool:
    """Write ``src`` shrunk to ``max_side`` (same format; alpha kept) to ``dst``; False when it is small enough."""
    from PIL import Image, ImageOps  # Pillow is a dependency; imported here to keep this module light

    with Image.open(src) as im:
        if max(im.size) <= max_side:
            return False
        im = ImageOps.exif_transpose(im)
        if im.mode not in ("RGB", "RGBA"):
            im = im.convert("RGBA" if "A" in im.getbands() or "transparency" in im.info else "RGB")
        scale = max_side / max(im.size)
        small = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.LANCZOS)
    if src.suffix.lower() == ".png":
        small.save(dst, format="PNG")
    else:
        small.convert("RGB").save(dst, format="JPEG", quality=95)
    return True


def content_dir(name: str) -> Path:
    """A content folder by name: ``"default"`` (:data:`DEFAULT_CONTENT_SOURCES`), ``"large"``
    (:data:`LARGE_CONTENT_SOURCES`, stored at ≤ :data:`LARGE_MAX_SIDE` px), or a path to a folder of images."""
    if name == "default":
        return default_content_dir()
    if name == "large":
        return default_content_dir(sources=LARGE_CONTENT_SOURCES, max_side=LARGE_MAX_SIDE)
    return Path(os.path.expanduser(name))


def _read_manifest(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _manifest_ok(path: Path, sources: list[str], max_side: int | None = None) -> bool:
    m = _read_manifest(path)
    if m is None or m.get("format_version") != _MANIFEST_VERSION or m.get("sources") != sources:
        return False
    if m.get("max_side") != max_side:
        return False
    files = m.get("files")
    if not isinstance(files, list) or not files:
        return False
    return all(isinstance(e, dict) and (path.parent / str(e.get("file", ""))).is_file() for e in files)
