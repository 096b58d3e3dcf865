"""``dynamicnet demo``: serve the interactive web demo."""

from __future__ import annotations

import argparse

from ..errors import DynamicNetError
from .common import add_device, add_engine, device_of, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="interactive web demo (α sliders in the browser)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    p.add_argument("--port", type=int, default=7860, help="TCP port to serve on")
    p.add_argument(
        "--models",
        nargs="*",
        default=None,
        metavar="MODEL",
        help="bundled model names or model folders (default: all bundled models)",
    )
    p.add_argument("--max-side", type=positive_int, default=512, help="images are processed at most this large")
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name the page may be reached by besides the bound address and localhost (e.g. "
        "the machine's name on the LAN); requests naming any other host are refused",
    )
    add_device(p)
    add_engine(p)
    p.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from ..demo.server import create_app
    except ImportError as exc:
        raise DynamicNetError(
            f"the demo needs its extras: pip install 'dynamicnet[demo]' ({exc.name} missing)"
        ) from None
    if not 0 < args.port < 65536:
        raise DynamicNetError(f"--port must be 1–65535, got {args.port}")
    from ..demo.server import LOCAL_HOSTS, http_protocol

    # Requests must name the address the server was started on (or this machine's loopback names).
    hosts = [*LOCAL_HOSTS, *args.allow_host, *([args.host] if args.host not in ("0.0.0.0", "::") else [])]
    app = create_app(
        args.models, max_side=args.max_side, allowed_hosts=hosts, device=str(device_of(args)), engine=args.engine
    )
    print(f"dynamicnet demo on http://{args.host}:{args.port}/  (Ctrl-C to stop)")
    # A bounded number of connections, and idle keep-alive connections closed quickly: slow clients cannot
    # hold the server's sockets for long.
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        timeout_keep_alive=5,
        limit_concurrency=128,
        http=http_protocol(),
    )
    return 0
