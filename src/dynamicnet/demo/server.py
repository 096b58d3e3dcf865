"""The web demo: one static page and a small JSON/image API over the application pipelines.

Run with ``dynamicnet demo`` (binds 127.0.0.1:7860 unless told otherwise). Bad input always gets a JSON 4xx
with a message the page shows; the server never answers 5xx to bad input.

Two kinds of work: slider renders and upload preparation (one network pass each, well under a second) take
turns on the render lane; heavy jobs (completion's auto α) run in a bounded :class:`~.jobs.JobPool` beside it,
so one user's auto α never holds up another user's slider.
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from PIL import Image
from starlette.concurrency import run_in_threadpool

from ..data.assets.photos import BUNDLED_PHOTOS, bundled_photo
from ..data.geometry import resize_max_side
from ..data.io import LoadedImage, decode_image, to_pil_image
from ..errors import DynamicNetError
from ..models import bundled_models, resolve_model
from .apps import SESSIONS, ModelEntry, form_int, load_entry, parse_alpha, style_image_of
from .jobs import Busy, JobPool
from .sessions import SessionStore, Superseded

STATIC = Path(__file__).resolve().parent / "static"
# Listed first, so the page opens on it: its only block feeds the linear output layer, so a slider move is an
# exact axpy over the image instead of a network pass (see docs/performance.md for what that costs in quality).
PREFERRED = ("starry-fast",)
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
# Checked from the header, before any pixel is decoded: a 24 MP photo (6000×4000) decodes in about a second;
# the demo works at --max-side anyway, so larger uploads buy nothing and would let one request hog a core.
MAX_UPLOAD_PIXELS = 24_000_000
MAX_JSON_BYTES = 64 * 1024  # a render request is {"alpha": …}: a few bytes
BODY_TIMEOUT_S = 60.0  # a client that has not sent its whole body by then is cut off (slow uploads, slow-loris)
HEADER_TIMEOUT_S = 10.0  # a client that has not sent a complete request head by then is disconnected
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


def http_protocol() -> type:
    """uvicorn's h11 protocol with a request-head timeout (uvicorn has none: 300 slow-loris connections that
    dribble header bytes stayed open for as long as they liked). Pass as ``uvicorn.run(..., http=...)``."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeadTimeoutH11Protocol(H11Protocol):
        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_head_timer()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm_head_timer()  # the next request on a kept-alive connection gets the same limit

        def handle_events(self) -> None:
            before = self.cycle
            super().handle_events()
            if self.cycle is not before:  # a request head arrived in full
                self._disarm_head_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_head_timer()
            super().connection_lost(exc)

        def _arm_head_timer(self) -> None:
            self._disarm_head_timer()
            self._head_timer = self.loop.call_later(HEADER_TIMEOUT_S, self._head_timed_out)

        def _disarm_head_timer(self) -> None:
            timer = getattr(self, "_head_timer", None)
            if timer is not None:
                timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            if not self.transport.is_closing():
                self.transport.close()

    return HeadTimeoutH11Protocol


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def create_app(
    models: list[str] | None = None,
    max_side: int = 512,
    max_session_bytes: int = 1 << 30,
    max_sessions: int = 64,
    session_ttl_s: float = 900.0,
    allowed_hosts: list[str] | None = None,
    device: str = "cpu",
    engine: str = "torch",
    job_workers: int = 1,
    max_queued_jobs: int = 8,
) -> FastAPI:
    """Build the demo app serving ``models`` (names or folders; default: every bundled model).

    ``job_workers`` heavy jobs (auto α) run at once, ``max_queued_jobs`` more may wait, one per session (see
    :class:`~.jobs.JobPool`); slider renders never wait for them.

    ``allowed_hosts``: the host names requests may address (``Host`` header) and come from (``Origin``); by
    default this machine's loopback names. Anything else is refused with 403, so a web page elsewhere cannot
    drive the API through DNS rebinding or a cross-site form post.
    """
    hosts = {h.lower() for h in (allowed_hosts or LOCAL_HOSTS)}
    entries: dict[str, ModelEntry] = {}
    default = sorted(bundled_models(), key=lambda n: (n not in PREFERRED, n))
    for spec in models or default:
        folder = resolve_model(spec)
        entry = load_entry(Path(spec).name if Path(spec).is_dir() else spec, folder, device, engine)
        if entry is not None:
            entries[entry.name] = entry
    if not entries:
        raise DynamicNetError("no model the demo can serve (give --models NAME|DIR ...)")
    store = SessionStore(max_session_bytes, max_sessions, session_ttl_s)
    app = FastAPI(title="dynamicnet demo", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def _same_host_only(request: Request, call_next: Any) -> Response:
        host = _host_name(request.headers.get("host", ""))
        if host not in hosts:
            return JSONResponse({"error": f"host {host!r} is not served here"}, status_code=403)
        origin = request.headers.get("origin")
        if (
            request.method not in ("GET", "HEAD")
            and origin is not None
            and _host_name(origin.split("://", 1)[-1]) not in hosts
        ):
            return JSONResponse({"error": "cross-origin requests are refused"}, status_code=403)
        return await call_next(request)

    jobs = JobPool(job_workers, max_queued_jobs)
    app.state.store = store
    app.state.entries = entries
    app.state.jobs = jobs
    # The render lane: one render or upload preparation at a time (torch already uses every core for one
    # image, and two at once would only make both late). Both cost one network pass, so nobody waits long
    # here; heavy jobs never take this lock. Renders run in the thread pool so the event loop keeps answering.
    render_lane = threading.Lock()

    @app.exception_handler(BadRequest)
    async def _bad_request(request: Request, exc: BadRequest) -> JSONResponse:
        # 408/413 arrive with body bytes still unread: close the connection instead of reading them all
        close = {"Connection": "close"} if exc.status in (408, 413) else None
        return JSONResponse({"error": str(exc)}, status_code=exc.status, headers=close)

    async def _user_error(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": " ".join(str(exc).split())}, status_code=400)

    app.add_exception_handler(DynamicNetError, _user_error)
    app.add_exception_handler(ValueError, _user_error)

    @app.exception_handler(Busy)
    async def _busy(request: Request, exc: Busy) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=exc.status, headers={"Retry-After": "10"})

    @app.get("/")
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/models")
    def list_models() -> dict[str, Any]:
        return {"models": [e.describe() for e in entries.values()], "max_side": max_side, "device": str(device)}

    @app.get("/api/examples")
    def list_examples() -> dict[str, Any]:
        """The photos shipped with the package, to try the demo before uploading anything."""
        return {"examples": sorted(BUNDLED_PHOTOS)}

    @app.get("/api/examples/{name}")
    def example(name: str) -> FileResponse:
        if name not in BUNDLED_PHOTOS:
            raise BadRequest(f"no example photo {name!r}", 404)
        return FileResponse(bundled_photo(name), media_type="image/jpeg")

    @app.get("/api/models/{name}/style/{objective}")
    def style_image(name: str, objective: str) -> Response:
        entry = _entry(name)
        path = style_image_of(entry, objective)
        if path is None:
            raise BadRequest(f"no style image for {name!r} objective {objective!r}", 404)
        with Image.open(path) as im:
            im = im.convert("RGB")
            im.thumbnail((256, 256))
            return _encoded(im, "jpeg")

    @app.post("/api/sessions")
    async def new_session(request: Request) -> dict[str, Any]:
        form = await _form(request)
        entry = _entry(str(form.get("model", "")))
        image = await _upload(form, "image")  # None for DC-GAN sessions (and refused by the image apps)
        fields: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
        mask = await _upload(form, "mask_image")
        if mask is not None:
            fields["mask_image"] = mask
        side = form_int(fields, "max_side", max_side, 16, max_side)
        make = SESSIONS[entry.config["application"]]
        # Shrink to the working size outside the render lane: resampling a 20 MP upload takes longer than many
        # slider renders, and other users' renders must not wait for it.
        if image is not None:
            image = await run_in_threadpool(_fit, image, side)

        def prepare() -> Any:
            with render_lane:
                return make(entry, image, fields, side)

        session = await run_in_threadpool(prepare)
        key = store.add(session)
        return {"session": key, **session.info, "model": entry.describe()}

    @app.post("/api/sessions/{key}/render")
    async def render(key: str, request: Request) -> Response:
        session = store.get(key)
        if session is None:
            raise BadRequest("unknown or expired session; upload the image again", 404)
        body = await _json(request)
        alpha = parse_alpha(body.get("alpha"), entries[session.model])
        preview = bool(body.get("preview", False))
        fmt = str(body.get("format", "jpeg")).lower()
        if fmt not in ("jpeg", "png"):
            raise BadRequest("format must be 'jpeg' or 'png'")
        ticket = session.next_ticket()

        def draw() -> tuple[Response, float]:
            started = time.perf_counter()
            with render_lane:
                image = store.render(session, ticket, alpha, preview)
            elapsed_ms = (time.perf_counter() - started) * 1000
            pil = to_pil_image(image)
            return _encoded(pil, fmt), elapsed_ms

        try:
            response, elapsed_ms = await run_in_threadpool(draw)
        except Superseded:
            return JSONResponse({"error": "superseded by a newer request"}, status_code=409)
        response.headers["X-Compute-Ms"] = f"{elapsed_ms:.1f}"
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/api/sessions/{key}/job")
    def job_status(key: str) -> dict[str, Any]:
        """Where this session's heavy job is (queued behind how many, or running for how long): the page polls
        it while it waits, so a long job is never silent."""
        if store.get(key) is None:
            raise BadRequest("unknown or expired session; upload the image again", 404)
        return jobs.status(key) or {"state": "idle"}

    @app.post("/api/sessions/{key}/{action}")
    async def act(key: str, action: str) -> dict[str, Any]:
        session = store.get(key)
        if session is None:
            raise BadRequest("unknown or expired session; upload the image again", 404)
        if action not in session.actions:
            raise BadRequest(f"this model has no action {action!r}", 404)
        # Awaited on the event loop: a job waiting in the queue holds none of the threads renders and uploads use.
        result: dict[str, Any] = await asyncio.wrap_future(jobs.submit(key, action, session.actions[action]))
        return result

    def _entry(name: str) -> ModelEntry:
        if name not in entries:
            raise BadRequest(f"unknown model {name!r}; available: {', '.join(entries)}", 404)
        return entries[name]

    return app


def _fit(image: LoadedImage, side: int) -> LoadedImage:
    alpha = None if image.alpha is None else resize_max_side(image.alpha, side)
    return image._replace(rgb=resize_max_side(image.rgb, side), alpha=alpha)


def _host_name(netloc: str) -> str:
    """``example.com:7860`` → ``example.com``; ``[::1]:7860`` → ``[::1]``."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc.split("]", 1)[0] + "]"
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


async def _capped_body(request: Request, limit: int, what: str) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes (declared or streamed: a chunked
    upload is counted as it arrives, never spooled first) and with 408 when it takes over BODY_TIMEOUT_S."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise BadRequest(f"{what} too large (limit {_size(limit)})", 413)
    chunks: list[bytes] = []
    size = 0
    stream = request.stream().__aiter__()
    deadline = time.monotonic() + BODY_TIMEOUT_S
    while True:
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), max(0.0, deadline - time.monotonic()))
        except StopAsyncIteration:
            break
        except asyncio.TimeoutError:
            raise BadRequest(f"{what} not received within {BODY_TIMEOUT_S:.0f} s", 408) from None
        size += len(chunk)
        if size > limit:
            raise BadRequest(f"{what} too large (limit {_size(limit)})", 413)
        chunks.append(chunk)
    return b"".join(chunks)


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


async def _form(request: Request) -> Any:
    body = await _capped_body(request, MAX_UPLOAD_BYTES + 65536, "upload")
    request._body = body  # Starlette parses the form from the body already read (and counted) above
    try:
        return await request.form(max_files=2, max_fields=16)
    except Exception as exc:  # malformed multipart bodies: the client's fault, say so
        raise BadRequest(f"expected a multipart form ({type(exc).__name__})") from None


async def _upload(form: Any, name: str) -> Any:
    """The image uploaded as form field ``name``, decoded and validated (in a worker thread: decoding takes
    CPU time the event loop must not spend), or None when absent."""
    upload = form.get(name)
    if upload is None or not hasattr(upload, "read"):
        return None
    data = await upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise BadRequest(f"upload too large (limit {MAX_UPLOAD_BYTES // (1024 * 1024)} MB)", 413)
    label = getattr(upload, "filename", None) or name
    return await run_in_threadpool(decode_image, data, name=label, max_pixels=MAX_UPLOAD_PIXELS)


async def _json(request: Request) -> dict[str, Any]:
    raw = await _capped_body(request, MAX_JSON_BYTES, "request body")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest('expected a JSON body like {"alpha": 0.5}') from None
    if not isinstance(body, dict):
        raise BadRequest("expected a JSON object")
    return body


def _encoded(im: Image.Image, fmt: str) -> Response:
    """A render as the response body: JPEG (quality 92) for the slider, PNG (fast, lossless) on request."""
    buf = io.BytesIO()
    if fmt == "jpeg":
        im.convert("RGB").save(buf, "JPEG", quality=92)
    else:
        im.save(buf, "PNG", compress_level=1)
    return Response(buf.getvalue(), media_type=f"image/{fmt}")
