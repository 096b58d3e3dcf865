"""The content sources: which installed package ships which photos, under which licence."""

from __future__ import annotations

import importlib.util
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dynamicnet.errors import DynamicNetError

# Where the Debian packages put their files. Attributes of this module (not literals inside functions; the other
# modules of the package read them through it) so tests and unusual installs can point them elsewhere.
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


def _gpl(package: str) -> str:
    return f"GPL-2+ (Debian {package} copyright, 'Files: *')"


def _assets_in_dir(d: Path, package: str) -> list[ContentAsset]:
    """A package's flat folder of photos (its source key is the package's name)."""
    if not d.is_dir():
        return []
    return [
        ContentAsset(f"{package}__{p.name}", package, package, p, _gpl(package))
        for p in sorted(d.iterdir())
        if p.is_file() and p.suffix.lower() in _PHOTO_EXTS
    ]


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
    pkg = "tuxpaint-stamps-default"
    licence = _gpl(pkg)
    assets: list[ContentAsset] = []
    for folder in _STAMP_FOLDERS:
        d = TUXPAINT_STAMPS_DIR / folder
        if not d.is_dir():
            continue
        for p in sorted(d.rglob("*.png")):
            rel = "-".join(p.relative_to(TUXPAINT_STAMPS_DIR).parts)
            assets.append(ContentAsset(f"tuxpaint-stamps__{rel}", "tuxpaint-stamps", pkg, p, licence))
    return assets


#: Content source key -> function listing its available images (empty when the package is absent).
CONTENT_SOURCES: dict[str, Callable[[], list[ContentAsset]]] = {
    "scikit-image": _assets_skimage,
    "opencv-doc": _assets_opencv,
    "tuxpaint-data": lambda: _assets_in_dir(TUXPAINT_TEMPLATES_DIR, "tuxpaint-data"),
    "palapeli-data": lambda: _assets_in_dir(PALAPELI_COLLECTION_DIR, "palapeli-data"),
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


def content_assets(sources: Sequence[str] = DEFAULT_CONTENT_SOURCES) -> list[ContentAsset]:
    """The images the given content sources provide on this machine (absent packages contribute none)."""
    unknown = [s for s in sources if s not in CONTENT_SOURCES]
    if unknown:
        raise DynamicNetError(f"unknown content source(s) {unknown}; known: {', '.join(CONTENT_SOURCES)}")
    assets: list[ContentAsset] = []
    for s in dict.fromkeys(sources):  # de-duplicate, keep order
        assets.extend(CONTENT_SOURCES[s]())
    return assets
