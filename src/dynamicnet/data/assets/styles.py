"""Style images from installed packages, by name, and style arguments given as a name or a path."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dynamicnet.data.assets import registry
from dynamicnet.data.assets.registry import _OPENCV_HINT, _OPENCV_LICENCE
from dynamicnet.errors import DynamicNetError


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
        locate_dir=lambda: registry.OPENCV_DATA_DIR,
        filename="starry_night.jpg",
    ),
    "graffiti": StyleImage(
        name="graffiti",
        title="Spray-painted graffiti mural (first image of the 'graf' sequence of the Oxford affine-covariant "
        "features benchmark, as shipped by OpenCV)",
        package="opencv-doc (Debian)",
        install_hint=_OPENCV_HINT,
        licence="shipped by Debian opencv-doc under " + _OPENCV_LICENCE + "; the mural's artist is not credited",
        locate_dir=lambda: registry.OPENCV_DATA_DIR,
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
