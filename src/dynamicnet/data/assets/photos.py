"""Photos for trying and judging models: the ones bundled with the package and the held-out evaluation set."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dynamicnet.data.assets import registry
from dynamicnet.errors import DynamicNetError

#: Photos shipped inside the package (see SOURCES.md), so the quick start works with no extra install.
PHOTOS_DIR = Path(__file__).resolve().parent.parent / "photos"
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
    d = registry._skimage_data_dir()
    return d if d is not None and (d / "astronaut.png").is_file() else None


# (name, directory getter, file): never part of any content source, so models can be judged on them.
_HELD_OUT: tuple[tuple[str, Callable[[], Path | None], str], ...] = (
    ("astronaut", lambda: _astronaut_dir(), "astronaut.png"),  # scikit-image, public domain (NASA)
    ("chelsea", lambda: registry._skimage_data_dir(), "chelsea.png"),  # scikit-image, CC0 (Stefan van der Walt)
    ("butterfly", lambda: registry.OPENCV_DATA_DIR, "butterfly.jpg"),  # opencv-doc
    ("building", lambda: registry.OPENCV_DATA_DIR, "building.jpg"),  # opencv-doc
    # Debian wallpapers (mate-backgrounds, ubuntu/lomiri wallpapers); licences in SOURCES.md
    *((name, lambda: registry.WALLPAPER_DIRS[0], rel) for name, rel in registry._HELD_OUT_WALLPAPERS.items()),
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
