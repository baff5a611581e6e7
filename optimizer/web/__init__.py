"""`relocate serve`: a local web page over the same Python API as the CLI (see `app`).

The explorer binds to 127.0.0.1 unless told otherwise, serves every asset itself (htmx is vendored in
static/, version and licence beside it), and keeps uploads and downloads in a temporary folder per
session, removed when the server stops.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import InputError


def serve(host: str = "127.0.0.1", port: int = 8000, inputs: Path | None = None) -> None:
    """Run the explorer until Ctrl+C."""
    import uvicorn

    from .app import create_app

    if not 0 < port < 65536:
        raise InputError(f"--port: give a port from 1 to 65535, got {port}")
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as err:
        raise InputError(f"cannot listen on {host}:{port} ({err.strerror or err}); choose another with --port") from None
    hosts = tuple(dict.fromkeys([host, "127.0.0.1", "localhost"]))
    app = create_app(inputs, hosts=hosts if host not in ("0.0.0.0", "::") else ("*",))
    shown = f"[{host}]" if ":" in host else host
    print(f"relocate explorer: http://{shown}:{port}/  (Ctrl+C stops it; data: {app.state.inputs}; uploads kept in {app.state.sessions.root} until then)", flush=True)
    # Ctrl+C is how the explorer is meant to stop, not an interruption of work: uvicorn hands the
    # signal back to the handler it found when it has shut down, so let that one be Python's own
    # and end quietly (the `relocate` command's handler would report "interrupted", exit 130).
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    except KeyboardInterrupt:
        pass


@contextmanager
def background(inputs: Path | None = None, port: int = 0) -> Iterator[str]:
    """The explorer served by uvicorn from a thread of this process on 127.0.0.1 (port 0: a free
    one), for tests, benchmarks and notebooks; yields its address and stops it on leaving."""
    import uvicorn

    from .app import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(inputs), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True, name="relocate-explorer")
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the explorer did not start within 60 s")
        time.sleep(0.05)
    address = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    try:
        yield address
    finally:
        server.should_exit = True
        thread.join(timeout=30)
