"""Atomic file writes.

Every file this library produces (model folders, checkpoints, images, videos, metrics) is written to a
temporary file in the destination folder, flushed with ``fsync`` and renamed over the target, so a crash or a
bad input never leaves a half-written file behind and a reader never sees a partial one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success it is fsynced and renamed onto ``target``.

    Writers that need a real filename (PIL, ffmpeg, safetensors) write to the yielded path. The temporary file
    keeps the target's extension (or ``suffix``) so format detection by extension still works. On any exception
    the temporary file is removed and ``target`` is left untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    ext = suffix if suffix is not None else "".join(target.suffixes[-1:])
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{ext}", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        try:
            yield tmp
        except OSError as exc:
            if exc.filename is not None and Path(exc.filename) == tmp:  # name the user's file, not our temporary
                raise type(exc)(exc.errno, exc.strerror, str(target)) from None
            raise
        # mkstemp's 0600 would make outputs private; give the usual mode. After the writer, because some
        # writers (safetensors) replace the file rather than write into it.
        os.chmod(tmp, 0o666 & ~_umask())
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def cache_dir() -> Path:
    """The library's cache folder (converted weights, the default content set); not created here.

    ``$DYNAMICNET_HOME`` if set, else ``$XDG_CACHE_HOME/dynamicnet``, else ``~/.cache/dynamicnet`` (empty
    variables count as unset).
    """
    if home := os.environ.get("DYNAMICNET_HOME"):
        return Path(home).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "dynamicnet"


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    atomic_write_bytes(target, text.encode("utf-8"))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(path: Path) -> None:
    # Make the rename itself durable; not all platforms allow opening a directory.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks (checkpoint sidecars, caches, content manifests)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
