"""Progress bars for long loops (frames, α values, photos, crops), the same way everywhere.

``progress=None`` (the default of the command line) shows a bar only when stderr is a terminal, so logs and
pipes stay clean; ``True``/``False`` force it on or off (``--no-progress``; the Python API's ``progress=``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress(
    items: Iterable[T], *, desc: str, total: int | None = None, unit: str = "it", enabled: bool | None = None
) -> Iterator[T]:
    """``items`` with a tqdm bar (ETA included) on stderr when ``enabled`` (None: only on a terminal)."""
    disable = None if enabled is None else not enabled
    yield from tqdm(items, desc=desc, total=total, unit=unit, disable=disable, dynamic_ncols=True, leave=False)
