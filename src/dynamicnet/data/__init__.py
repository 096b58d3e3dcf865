"""Data: robust image IO, training datasets and registry-sourced assets (no downloads).

- :mod:`~dynamicnet.data.io` — ``load_image`` / ``save_image``; :mod:`~dynamicnet.data.animation` — GIF, WebP,
  MP4; :mod:`~dynamicnet.data.figures` — contact sheets; :mod:`~dynamicnet.data.geometry` — padding, resizing.
- :mod:`~dynamicnet.data.folder` — ``ImageFolderDataset`` and ``SyntheticImageDataset`` with the
  ``get(index, rng)`` protocol that makes training exactly resumable.
- :mod:`~dynamicnet.data.assets` — default content photos, style images and held-out photos from installed
  packages, with their licences (``SOURCES.md``).
"""

from dynamicnet.data.animation import ANIMATION_FORMATS, save_animation, save_gif
from dynamicnet.data.assets import (
    CONTENT_SOURCES,
    DEFAULT_CONTENT_SOURCES,
    STYLE_IMAGES,
    ContentAsset,
    StyleImage,
    bundled_photo,
    cache_dir,
    content_assets,
    default_content_dir,
    held_out_photos,
    resolve_style_image,
    style_image_path,
)
from dynamicnet.data.figures import image_grid, make_contact_sheet
from dynamicnet.data.folder import ImageFolderDataset, SyntheticImageDataset, find_images
from dynamicnet.data.geometry import pad_to_multiple, resize_max_side, unpad
from dynamicnet.data.io import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    SAVE_FORMATS,
    LoadedImage,
    decode_image,
    load_image,
    save_image,
    to_pil_image,
)

__all__ = [
    "ANIMATION_FORMATS",
    "CONTENT_SOURCES",
    "DEFAULT_CONTENT_SOURCES",
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "SAVE_FORMATS",
    "STYLE_IMAGES",
    "ContentAsset",
    "ImageFolderDataset",
    "LoadedImage",
    "StyleImage",
    "SyntheticImageDataset",
    "bundled_photo",
    "cache_dir",
    "content_assets",
    "decode_image",
    "default_content_dir",
    "find_images",
    "held_out_photos",
    "load_image",
    "image_grid",
    "make_contact_sheet",
    "pad_to_multiple",
    "resize_max_side",
    "resolve_style_image",
    "save_animation",
    "save_gif",
    "save_image",
    "style_image_path",
    "to_pil_image",
    "unpad",
]
