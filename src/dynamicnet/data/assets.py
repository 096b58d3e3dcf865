"""Registry-sourced images: a default content set for offline training, style images, held-out photos.

Nothing here downloads anything. Every image comes from a package installed through an ordinary package
registry (scikit-image from PyPI, ``opencv-doc`` and friends from Debian), is used in place or copied into the
user's cache, and is recorded with its package, original path and licence. See ``SOURCES.md`` beside this
file for the full list and the licence evidence.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dynamicnet.errors import DynamicNetError
from dynamicnet.utils.fs import atomic_path, atomic_write_text, cache_dir, sha256_file

__all__ = [
    "CONTENT_SOURCES",
    "DEFAULT_CONTENT_SOURCES",
    "MANIFEST_NAME",
    "PHOTOS_DIR",
    "STYLE_IMAGES",
    "ContentAsset",
    "StyleImage",
    "bundled_photo",
    "cache_dir",
    "content_assets",
    "content_dir",
    "default_content_dir",
    "held_out_photos",
    "resolve_style_image",
    "style_image_path",
]

MANIFEST_NAME = "MANIFEST.json"
_MANIFEST_VERSION = 1

# Where the Debian packages put their files. Module attributes (not literals inside functions) so tests and
# unusual installs can point them elsewhere.
OPENCV_DATA_DIR = Path("/usr/share/doc/opencv-doc/examples/data")
TUXPAINT_TEMPLATES_DIR = Path("/usr/share/tuxpaint/templates")
PALAPELI_COLLECTION_DIR = Path("/usr/share/palapeli/collection")
TUXPAINT_STAMPS_DIR = Path("/usr/share/tuxpaint/stamps")
WALLPAPER_DIRS: tuple[Path, ...] = (
    Path("/usr/share/backgrounds"),
    Path("/usr/share/wallpapers"),
    Path("/usr/share/lxqt/wallpapers"),
)

_OPENCV_LICENCE = "Apache-2.0 AND BSD-3-Clause (Debian opencv-doc copyright, 'Files: *')"
_OPENCV_HINT = (
    "install the Debian package opencv-doc (apt-get install opencv-doc); if it is installed but "
    f"{OPENCV_DATA_DIR} is missing, a dpkg 'path-exclude=/usr/share/doc/*' rule (common in slim container "
    "images, see /etc/dpkg/dpkg.cfg.d/) dropped its files"
)


def _skimage_data_dir() -> Path | None:
    # Located without importing scikit-image (a slow import) - only its bundled files are needed.
    try:
        spec = importlib.util.find_spec("skimage")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        d = Path(loc) / "data"
        if d.is_dir():
            return d
    return None


# ------------------------------------------------------------------------------------------ content sources


@dataclass(frozen=True)
class ContentAsset:
    """One image of a content source: where it is, which package ships it, under which licence."""

    name: str  # file name in the materialised folder, "<source>__<stem><ext>"
    source: str  # our source key, e.g. "opencv-doc"
    package: str  # the registry package that ships it ("scikit-image" on PyPI, Debian package names)
    original: Path
    licence: str


# scikit-image photos (skimage/data, shipped in the wheel). Licences as stated in skimage/data/_fetchers.py.
_SKIMAGE_CONTENT: dict[str, str] = {
    "coffee.png": "CC0-1.0 (photographer Rachel Michetti, courtesy of Pikolo Espresso Bar)",
    "rocket.jpg": "Public domain (SpaceX launch photo, released into the public domain)",
    "hubble_deep_field.jpg": "Public domain (NASA/HubbleSite)",
}
# opencv-doc colour photos. Excluded on purpose: starry_night/graf* (style images), butterfly/building
# (held out), near-duplicates (aloeR, leuvenB, ela_modified, rubberwhale2, graf3), calibration and synthetic
# images, logos, text, renders, motion-blurred shots, and messi5 (a press-style photo of a named person).
_OPENCV_CONTENT: tuple[str, ...] = (
    "aero1.jpg",
    "aero3.jpg",
    "aloeL.jpg",
    "apple.jpg",
    "baboon.jpg",
    "board.jpg",
    "chicky_512.png",
    "ela_original.jpg",
    "fruits.jpg",
    "home.jpg",
    "leuvenA.jpg",
    "orange.jpg",
    "pca_test1.jpg",
    "rubberwhale1.png",
    "smarties.png",
    "squirrel_cls.jpg",
    "stuff.jpg",
)
_PHOTO_EXTS = (".jpg", ".jpeg", ".png")


def _assets_skimage() -> list[ContentAsset]:
    d = _skimage_data_dir()
    if d is None:
        return []
    return [
        ContentAsset(f"scikit-image__{Path(f).stem}{Path(f).suffix}", "scikit-image", "scikit-image", d / f, lic)
        for f, lic in _SKIMAGE_CONTENT.items()
        if (d / f).is_file()
    ]


def _assets_opencv() -> list[ContentAsset]:
    d = OPENCV_DATA_DIR
    return [
        ContentAsset(f"opencv-doc__{f}", "opencv-doc", "opencv-doc", d / f, _OPENCV_LICENCE)
        for f in _OPENCV_CONTENT
        if (d / f).is_file()
    ]


def _assets_in_dir(d: Path, source: str, package: str, licence: str) -> list[ContentAsset]:
    if not d.is_dir():
        return []
    return [
        ContentAsset(f"{source}__{p.name}", source, package, p, licence)
        for p in sorted(d.iterdir())
        if p.is_file() and p.suffix.lower() in _PHOTO_EXTS
    ]


def _assets_tuxpaint() -> list[ContentAsset]:
    return _assets_in_dir(
        TUXPAINT_TEMPLATES_DIR,
        "tuxpaint-data",
        "tuxpaint-data",
        "GPL-2+ (Debian tuxpaint-data copyright, 'Files: *')",
    )


def _assets_palapeli() -> list[ContentAsset]:
    return _assets_in_dir(
        PALAPELI_COLLECTION_DIR,
        "palapeli-data",
        "palapeli-data",
        "GPL-2+ (Debian palapeli-data copyright, 'Files: *')",
    )


def _debian_package_of(path: Path) -> str | None:
    try:
        out = subprocess.run(["dpkg-query", "-S", str(path)], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0 or ":" not in out.stdout:
        return None
    return out.stdout.split(":", 1)[0].split(",")[0].strip() or None


# "Sway_Wallpaper_Blue_1920x1080_Portrait.png" and "Elephants_3840x2160.jpg" are renditions of one picture.
_RENDITION_SUFFIX = re.compile(r"(_\d+x\d+)?(_portrait)?$", re.IGNORECASE)


# Wallpapers kept out of every content set for evaluation (see held_out_photos): a macro shot, a mountain
# landscape, an interior and two dogs at a door. Matched by path relative to a wallpaper root.
_HELD_OUT_WALLPAPERS: dict[str, str] = {
    "ladybird": "mate/nature/LadyBird.jpg",
    "mountains": "picosdeeuropa_by_Aitzol_Berasategi.jpg",
    "interior": "Wine_by_Jakkub_Mede.jpg",
    "dogs": "friends_by_Aitzol_Berasategi.jpg",
}


def _wallpaper_key(root: Path, p: Path) -> tuple[str, ...]:
    # KDE ships each picture as <Name>/contents/images*/WxH.jpg: the picture is the <Name> folder. Elsewhere one
    # file is one picture, up to a resolution suffix.
    rel = p.relative_to(root).parts
    if "contents" in rel:
        return (str(root), *rel[: rel.index("contents")])
    return (str(root), *rel[:-1], _RENDITION_SUFFIX.sub("", p.stem).lower())


def _assets_wallpapers() -> list[ContentAsset]:
    # Wallpaper packages ship a picture in several resolutions; keep only the largest file of each picture so
    # that one wallpaper is not counted ten times, but keep every distinct picture of a flat folder.
    best: dict[tuple[str, ...], tuple[Path, Path]] = {}  # picture -> (root it was found under, file)
    for root in WALLPAPER_DIRS:
        if not root.is_dir():
            continue
        for p in sorted(root.rglob("*")):
            if not p.is_file() or p.suffix.lower() not in _PHOTO_EXTS:
                continue
            if p.relative_to(root).as_posix() in _HELD_OUT_WALLPAPERS.values():
                continue
            key = _wallpaper_key(root, p)
            cur = best.get(key)
            if cur is None or p.stat().st_size > cur[1].stat().st_size:
                best[key] = (root, p)
    assets = []
    for root, p in sorted(best.values()):
        pkg = _debian_package_of(p) or "unknown"
        rel = "-".join(p.relative_to(root).parts)
        licence = f"see /usr/share/doc/{pkg}/copyright" if pkg != "unknown" else "unknown (not from a Debian package)"
        # the freedesktop folders (the first two roots) name files as before; others add their owner's name
        prefix = "wallpapers" if WALLPAPER_DIRS.index(root) < 2 else f"wallpapers-{root.parent.name}"
        assets.append(ContentAsset(f"{prefix}__{rel}", "wallpapers", pkg, p, licence))
    return assets


# Tux Paint stamps are cut-out objects (mostly photographs) on a transparent background. The symbol, cartoon
# and people folders are drawings, text or portraits of real people and stay out.
_STAMP_FOLDERS = ("animals", "clothes", "food", "hobbies", "household", "plants", "space", "sports", "town", "vehicles")


def _assets_tuxpaint_stamps() -> list[ContentAsset]:
    assets: list[ContentAsset] = []
    for folder in _STAMP_FOLDERS:
        d = TUXPAINT_STAMPS_DIR / folder
        if not d.is_dir():
            continue
        for p in sorted(d.rglob("*.png")):
            rel = "-".join(p.relative_to(TUXPAINT_STAMPS_DIR).parts)
            assets.append(
                ContentAsset(
                    f"tuxpaint-stamps__{rel}",
                    "tuxpaint-stamps",
                    "tuxpaint-stamps-default",
                    p,
                    "GPL-2+ (Debian tuxpaint-stamps-default copyright, 'Files: *')",
                )
            )
    return assets


#: Content source key -> function listing its available images (empty when the package is absent).
CONTENT_SOURCES: dict[str, Callable[[], list[ContentAsset]]] = {
    "scikit-image": _assets_skimage,
    "opencv-doc": _assets_opencv,
    "tuxpaint-data": _assets_tuxpaint,
    "palapeli-data": _assets_palapeli,
    "wallpapers": _assets_wallpapers,
    "tuxpaint-stamps": _assets_tuxpaint_stamps,
}
#: The default set uses only permissively licensed / public-domain sources (GPL ones are opt-in).
DEFAULT_CONTENT_SOURCES: tuple[str, ...] = ("scikit-image", "opencv-doc")
#: The set the bundled style models were trained on (hundreds of photos; see SOURCES.md for every licence).
LARGE_CONTENT_SOURCES: tuple[str, ...] = (
    "scikit-image",
    "opencv-doc",
    "wallpapers",
    "tuxpaint-data",
    "palapeli-data",
    "tuxpaint-stamps",
)
LARGE_MAX_SIDE = 640


def content_assets(sources: Sequence[str] = DEFAULT_CONTENT_SOURCES) -> list[ContentAsset]:
    """The images the given content sources provide on this machine (absent packages contribute none)."""
    unknown = [s for s in sources if s not in CONTENT_SOURCES]
    if unknown:
        raise DynamicNetError(f"unknown content source(s) {unknown}; known: {', '.join(CONTENT_SOURCES)}")
    assets: list[ContentAsset] = []
    for s in dict.fromkeys(sources):  # de-duplicate, keep order
        assets.extend(CONTENT_SOURCES[s]())
    return assets


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


# -------------------------------------------------------------------------------------------- style images


@dataclass(frozen=True)
class StyleImage:
    """A registry-provided style image: its file (under a package's data folder) and its provenance."""

    name: str
    title: str
    package: str
    install_hint: str
    licence: str
    filename: str
    locate_dir: Callable[[], Path | None] = field(repr=False, compare=False)

    @property
    def path(self) -> Path | None:
        """The file, or None when the providing package is not installed."""
        d = self.locate_dir()
        if d is None:
            return None
        p = d / self.filename
        return p if p.is_file() else None


STYLE_IMAGES: dict[str, StyleImage] = {
    "starry_night": StyleImage(
        name="starry_night",
        title="The Starry Night, Vincent van Gogh (1889)",
        package="opencv-doc (Debian)",
        install_hint=_OPENCV_HINT,
        licence="painting in the public domain; file shipped by Debian opencv-doc under " + _OPENCV_LICENCE,
        locate_dir=lambda: OPENCV_DATA_DIR,
        filename="starry_night.jpg",
    ),
    "graffiti": StyleImage(
        name="graffiti",
        title="Spray-painted graffiti mural (first image of the 'graf' sequence of the Oxford affine-covariant "
        "features benchmark, as shipped by OpenCV)",
        package="opencv-doc (Debian)",
        install_hint=_OPENCV_HINT,
        licence="shipped by Debian opencv-doc under " + _OPENCV_LICENCE + "; the mural's artist is not credited",
        locate_dir=lambda: OPENCV_DATA_DIR,
        filename="graf1.png",
    ),
}


def style_image_path(name: str) -> Path:
    """The file of the registry style image ``name`` (see :data:`STYLE_IMAGES`).

    Raises:
        DynamicNetError: unknown name (lists the known ones), or the providing package is not installed
            (says what to install).
    """
    spec = STYLE_IMAGES.get(name)
    if spec is None:
        raise DynamicNetError(f"unknown style image {name!r}; known: {', '.join(sorted(STYLE_IMAGES))}")
    p = spec.path
    if p is None:
        raise DynamicNetError(f"style image {name!r} is not available: {spec.install_hint}")
    return p


def resolve_style_image(name_or_path: str | os.PathLike[str]) -> Path:
    """A style given on the command line: a registry name (``starry_night``) or a path to an image file."""
    s = os.fspath(name_or_path)
    if s in STYLE_IMAGES:
        return style_image_path(s)
    p = Path(os.path.expanduser(s))
    if p.is_file():
        return p
    raise DynamicNetError(
        f"style {s!r} is neither a known style image ({', '.join(sorted(STYLE_IMAGES))}) nor an existing file"
    )


# ----------------------------------------------------------------------------------------- held-out photos

#: Photos shipped inside the package (see SOURCES.md), so the quick start works with no extra install.
PHOTOS_DIR = Path(__file__).resolve().parent / "photos"
BUNDLED_PHOTOS: dict[str, str] = {"astronaut": "astronaut.jpg", "coffee": "coffee.jpg", "rocket": "rocket.jpg"}


def bundled_photo(name: str = "astronaut") -> Path:
    """A photo shipped with the package (SOURCES.md): ``astronaut`` (NASA, public domain; one of the held-out
    photos, never training content), ``coffee`` (CC0) and ``rocket`` (public domain), the demo's examples."""
    fn = BUNDLED_PHOTOS.get(name)
    if fn is None:
        raise DynamicNetError(f"unknown bundled photo {name!r}; known: {', '.join(sorted(BUNDLED_PHOTOS))}")
    p = PHOTOS_DIR / fn
    if not p.is_file():
        raise DynamicNetError(f"{p}: bundled photo missing from this installation (reinstall dynamicnet)")
    return p


def _astronaut_dir() -> Path | None:
    d = _skimage_data_dir()
    return d if d is not None and (d / "astronaut.png").is_file() else None


# (name, directory getter, file): never part of any content source above, so models can be judged on them.
_HELD_OUT: tuple[tuple[str, Callable[[], Path | None], str], ...] = (
    ("astronaut", lambda: _astronaut_dir(), "astronaut.png"),  # scikit-image, public domain (NASA)
    ("chelsea", lambda: _skimage_data_dir(), "chelsea.png"),  # scikit-image, CC0 (Stefan van der Walt)
    ("butterfly", lambda: OPENCV_DATA_DIR, "butterfly.jpg"),  # opencv-doc
    ("building", lambda: OPENCV_DATA_DIR, "building.jpg"),  # opencv-doc
    # Debian wallpapers (mate-backgrounds, ubuntu/lomiri wallpapers); licences in SOURCES.md
    *((name, lambda: WALLPAPER_DIRS[0], rel) for name, rel in _HELD_OUT_WALLPAPERS.items()),
)


def held_out_photos() -> dict[str, Path]:
    """Photos kept out of every content set, for evaluating models: name -> path (those installed).

    astronaut and chelsea (the cat) from scikit-image, butterfly and building from opencv-doc: a portrait,
    an animal with fur, saturated natural colour and architecture with straight edges; and, where the Debian
    wallpaper packages are installed, ladybird, mountains, interior and dogs (large photos, unlike the four). Without scikit-image,
    astronaut comes from the copy bundled with the package, so the result is never empty in a normal install.

    Raises:
        DynamicNetError: neither scikit-image nor opencv-doc is installed.
    """
    found: dict[str, Path] = {}
    for name, getter, fn in _HELD_OUT:
        d = getter()
        if d is not None and (d / fn).is_file():
            found[name] = d / fn
        elif name in BUNDLED_PHOTOS and (PHOTOS_DIR / BUNDLED_PHOTOS[name]).is_file():
            found[name] = PHOTOS_DIR / BUNDLED_PHOTOS[name]  # same photo, shipped with the package
    if not found:
        raise DynamicNetError(
            "no held-out photos available: install scikit-image (pip install scikit-image) and/or opencv-doc "
            "(apt-get install opencv-doc)"
        )
    return found
