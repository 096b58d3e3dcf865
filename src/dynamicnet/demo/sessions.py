"""Server-side state of the demo: prepared inputs per browser session, bounded in memory and time.

Each upload (or DC-GAN seed) becomes a session that holds the α-independent work for that input, so a slider
move only reruns what depends on α. Sessions live in an LRU bounded by a byte budget, a count and an idle
time-out. Renders of one session are serialised, and a render that was overtaken by a newer one for the same
session before it started is skipped ("coalescing": only the latest α is computed).
"""

from __future__ import annotations

import ctypes
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class Session:
    """One prepared input. ``render(alpha, preview)`` returns a ``(3, H, W)`` image in [0, 1]."""

    model: str
    render_fn: Callable[[Any, bool], torch.Tensor]
    nbytes: int
    info: dict[str, Any] = field(default_factory=dict)
    # Heavy jobs (completion's "auto"): they run in the server's job pool while this session's renders go on,
    # so they must not touch what ``render_fn`` caches.
    actions: dict[str, Callable[[], dict[str, Any]]] = field(default_factory=dict)
    created: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)
    latest: int = 0  # sequence number of the newest render request
    # Re-measures what the session holds: caches can grow on later renders (the fast path keeps an affine split
    # after a repeat, previews are made on demand), and the budget must count what is really held.
    measure: Callable[[], int] | None = None
    _tickets: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def next_ticket(self) -> int:
        with self._tickets:
            self.latest += 1
            return self.latest


def tensor_bytes(obj: Any, _seen: set[int] | None = None) -> int:
    """Bytes held by the tensors reachable from ``obj``'s attributes, dicts, lists and tuples (no modules)."""
    seen = _seen if _seen is not None else set()
    if id(obj) in seen or isinstance(obj, torch.nn.Module):
        return 0
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        return obj.element_size() * obj.nelement()
    if isinstance(obj, dict):
        return sum(tensor_bytes(v, seen) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(tensor_bytes(v, seen) for v in obj)
    if hasattr(obj, "__dict__"):
        return sum(tensor_bytes(v, seen) for v in vars(obj).values())
    return 0


class Superseded(Exception):
    """A newer render request for the same session arrived before this one started."""


class SessionStore:
    """LRU of sessions with a memory budget, a maximum count and an idle time-out."""

    def __init__(self, max_bytes: int = 1 << 30, max_sessions: int = 64, ttl_s: float = 900.0) -> None:
        self.max_bytes, self.max_sessions, self.ttl_s = max_bytes, max_sessions, ttl_s
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, session: Session) -> str:
        key = secrets.token_urlsafe(12)
        with self._lock:
            self._sessions[key] = session
            self._evict()
        return key

    def get(self, key: str) -> Session | None:
        with self._lock:
            self._expire()
            session = self._sessions.get(key)
            if session is not None:
                session.last_used = time.monotonic()
                self._sessions.move_to_end(key)
            return session

    def render(self, session: Session, ticket: int, alpha: Any, preview: bool) -> torch.Tensor:
        """Render the request holding ``ticket`` (from :meth:`Session.next_ticket`, taken on arrival), unless a
        newer request for the same session arrived while it waited: then raise :class:`Superseded`."""
        with session.lock:
            if ticket < session.latest:
                raise Superseded
            image = session.render_fn(alpha, preview)
            if session.measure is not None:
                nbytes = session.measure()
                if nbytes != session.nbytes:
                    with self._lock:
                        session.nbytes = nbytes
                        self._evict()
            return image

    @property
    def total_bytes(self) -> int:
        return sum(s.nbytes for s in self._sessions.values())

    def __len__(self) -> int:
        return len(self._sessions)

    def _expire(self) -> None:
        now = time.monotonic()
        for key in [k for k, s in self._sessions.items() if now - s.last_used > self.ttl_s]:
            del self._sessions[key]

    def _evict(self) -> None:
        before = len(self._sessions)
        self._expire()
        while self._sessions and (len(self._sessions) > self.max_sessions or self.total_bytes > self.max_bytes):
            self._sessions.popitem(last=False)  # least recently used first
        if len(self._sessions) < before:
            _return_freed_memory()


def _return_freed_memory() -> None:
    """Hand freed heap pages back to the OS (glibc keeps them otherwise, and the process's RSS only grows)."""
    global _malloc_trim
    if _malloc_trim is None:
        try:
            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):  # not glibc: nothing to do
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim: Any = None
