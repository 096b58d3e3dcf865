"""Registry-sourced images: a default content set for offline training, style images, held-out photos.

Nothing here downloads anything. Every image comes from a package installed through an ordinary package
registry (scikit-image from PyPI, ``opencv-doc`` and friends from Debian), is used in place or copied into the
user's cache, and is recorded with its package, original path and licence. See ``dynamicnet/data/SOURCES.md``
for the full list and the licence evidence.
"""

from dynamicnet.data.assets.content import MANIFEST_NAME, content_dir, default_content_dir
from dynamicnet.data.assets.photos import PHOTOS_DIR, bundled_photo, held_out_photos
from dynamicnet.data.assets.registry import CONTENT_SOURCES, DEFAULT_CONTENT_SOURCES, ContentAsset, content_assets
from dynamicnet.data.assets.styles import STYLE_IMAGES, StyleImage, resolve_style_image, style_image_path
from dynamicnet.utils.fs import cache_dir

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
