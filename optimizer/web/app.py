"""`relocate serve`: the explorer as a Starlette application (Jinja2 templates, htmx, uvicorn).

Routes: GET / (the page), POST /explore (recompute: the results, and the sliders when the preset
or the data changed), POST /upload (a states or cases CSV), POST /compare/add and /compare/clear,
GET /download/{plan|comparison}/{file} and /static/*. Every asset is served from the package (no
CDN; the Content-Security-Policy allows scripts from this server only). Errors the CLI would print
as `relocate: error: ...` are shown as that one line, escaped like all user text.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import threading
import zipfile
from contextlib import asynccontextmanager
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import InputError, RelocationError, one_line
from ..apportion import METHODS
from ..keys import PRESETS
from .explorer import DEFAULT_PRESET, DEFAULT_TOTAL, explore, metrics_table, summary
from .forms import choices_from_form, inputs_folder, shipped_files
from .session import COOKIE, MAX_VARIANTS, Session, Sessions
from .variants import add_variant, comparison_view, write_comparison, write_plan

# Largest upload accepted, per request (a states file is a few KB; 2,000 cases are 60 KB).
MAX_UPLOAD_BYTES = 8 * 1024 * 1024
# matplotlib's rc settings are global: one computation draws at a time.
_DRAW = threading.Lock()
_CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"
# File -> (media type, the report formats to write for it; None: the plan files and every report).
DOWNLOADS = {
    "report.html": ("text/html; charset=utf-8", "html"),
    "report.xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "report.json": ("application/json", "json"),
    "all.zip": ("application/zip", None),
}


class Explorer:
    """The routes over one folder of shipped data and one set of sessions."""

    def __init__(self, inputs: Path | None, max_upload_bytes: int) -> None:
        self.folder = inputs_folder(inputs)
        self.sessions = Sessions()
        self.max_upload_bytes = max_upload_bytes
        self.templates = Environment(loader=PackageLoader("optimizer.web", "templates"), autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)
        self.templates.globals.update(zip=zip, presets=PRESETS, methods=METHODS, max_variants=MAX_VARIANTS, max_upload_mb=max_upload_bytes / 2**20, svg=Markup)

    def page(self, name: str, session: Session, status: int = 200, **context) -> HTMLResponse:
        response = HTMLResponse(self.templates.get_template(name).render(**context), status_code=status)
        response.set_cookie(COOKIE, session.id, httponly=True, samesite="strict")
        response.headers["Content-Security-Policy"] = _CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    def session_of(self, request: Request) -> Session:
        return self.sessions.get(request.cookies.get(COOKIE))

    def compute(self, session: Session, form: dict) -> dict:
        """The context of the results (and sliders) for one form; an error as its one line."""
        try:
            choices, states, cases, reset = choices_from_form(form, self.folder, session)
            with _DRAW:
                outcome = explore(choices, states, cases)
        except RelocationError as err:
            # Shipped files are named as a clone shows them, uploads by the name they were sent with.
            return {"error": session.public(str(err)).replace(f"{self.folder.parent}/", ""), "reset": False}
        if outcome.result is not None:
            session.last = outcome.result
        return {"outcome": outcome, "reset": reset, "summary": summary(outcome), "metrics": metrics_table(outcome)}

    async def index(self, request: Request) -> Response:
        session = self.session_of(request)
        form = {"data": default_states(self.folder), "preset": DEFAULT_PRESET, "method": "lp", "total": str(DEFAULT_TOTAL), "cases": "none"}
        context = await run_in_threadpool(self.compute, session, form)
        return self.page("index.html", session, form=form, data_options=shipped_files(self.folder, session), comparison=None, **context)

    async def explore(self, request: Request) -> Response:
        session = self.session_of(request)
        form = dict(await request.form(max_files=0, max_fields=64))
        context = await run_in_threadpool(self.compute, session, form)
        return self.page("results.html", session, form=form, oob=True, **context)

    async def upload(self, request: Request) -> Response:
        session = self.session_of(request)
        refused = self._refuse_size(request.headers.get("content-length"))
        if refused:
            return self.page("upload.html", session, refused[0], error=refused[1])
        form = await request.form(max_files=2, max_fields=8)
        # The choices form's selects come along, so the file lists keep what is chosen there.
        current = {"data": str(form.get("data", "")), "cases": str(form.get("cases", "none"))}
        stored = []
        try:
            for role in ("states", "cases"):
                item = form.get(role)
                if item is None or isinstance(item, str) or not item.filename:
                    continue
                content = await item.read(self.max_upload_bytes + 1)
                if len(content) > self.max_upload_bytes:
                    raise InputError(f"{item.filename}: above the upload limit")
                await run_in_threadpool(session.store_upload, role, item.filename, content)
                stored.append(f"{role}: {session.uploads[role].name}")
                current["data" if role == "states" else "cases"] = "upload"
        except RelocationError as err:
            return self.page("upload.html", session, 422, error=one_line(str(err)))
        if not stored:
            return self.page("upload.html", session, 422, error="choose a states CSV or a cases CSV to upload")
        options = shipped_files(self.folder, session)
        response = self.page("upload.html", session, message="uploaded and checked: " + ", ".join(stored), data_options=options, uploaded=True, oob=True, form=current)
        response.headers["HX-Trigger"] = "refresh"  # the choices form recomputes with the new file
        return response

    def _refuse_size(self, length: str | None) -> tuple[int, str] | None:
        """(status, message) when an upload is refused before it is read."""
        if length is None or not length.isdigit():
            return 411, "upload refused: the request gives no length"
        if int(length) > self.max_upload_bytes:
            return 413, f"upload refused: {int(length):,} bytes is above the limit of {self.max_upload_bytes / 2**20:g} MiB"
        return None

    async def compare_add(self, request: Request) -> Response:
        session = self.session_of(request)
        form = dict(await request.form(max_files=0, max_fields=8))
        try:
            await run_in_threadpool(add_variant, session, str(form.get("variant_name", "")))
        except RelocationError as err:
            return self.page("comparison.html", session, 422, comparison_error=str(err), comparison=None)
        with _DRAW:
            view = await run_in_threadpool(comparison_view, session)
        return self.page("comparison.html", session, comparison=view)

    async def compare_clear(self, request: Request) -> Response:
        session = self.session_of(request)
        session.variants.clear()
        return self.page("comparison.html", session, comparison=None)

    async def download(self, request: Request) -> Response:
        session = self.session_of(request)
        what, name = request.path_params["what"], request.path_params["name"]
        if name not in DOWNLOADS or what not in ("plan", "comparison"):
            return Response("no such download", status_code=404, media_type="text/plain")
        writer = write_plan if what == "plan" else write_comparison
        try:
            with _DRAW:
                folder = await run_in_threadpool(writer, session, DOWNLOADS[name][1])
        except RelocationError as err:
            return Response(str(err), status_code=409, media_type="text/plain; charset=utf-8")
        try:
            content = _zip(folder) if name == "all.zip" else (folder / name).read_bytes()
        finally:
            shutil.rmtree(folder, ignore_errors=True)  # sent to the browser: nothing kept here
        headers = {"Content-Disposition": f'attachment; filename="relocate-{what}-{name}"'}
        return Response(content, media_type=DOWNLOADS[name][0], headers=headers)


def create_app(inputs: Path | None = None, max_upload_bytes: int = MAX_UPLOAD_BYTES, hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "testserver")) -> Starlette:
    """The explorer over the shipped data in `inputs` (default: the clone's inputs/ folder), for
    requests to `hosts` only (a page elsewhere cannot reach it by rebinding a name to 127.0.0.1)."""
    explorer = Explorer(inputs, max_upload_bytes)

    @asynccontextmanager
    async def lifespan(app):
        try:
            yield
        finally:
            await asyncio.to_thread(explorer.sessions.close)

    app = Starlette(
        routes=[
            Route("/", explorer.index),
            Route("/explore", explorer.explore, methods=["POST"]),
            Route("/upload", explorer.upload, methods=["POST"]),
            Route("/compare/add", explorer.compare_add, methods=["POST"]),
            Route("/compare/clear", explorer.compare_clear, methods=["POST"]),
            Route("/download/{what}/{name}", explorer.download),
            Mount("/static", StaticFiles(packages=[("optimizer.web", "static")]), name="static"),
        ],
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=list(hosts))],
        lifespan=lifespan,
    )
    app.state.sessions = explorer.sessions
    app.state.inputs = explorer.folder
    return app


def default_states(folder: Path) -> str:
    """The form value of the states file the page opens on: the EU-27 + EFTA 2023 data (31 states)
    when it is there, else the first offered, else none (the page then says what to do)."""
    offered = [value for value, _ in shipped_files(folder, None)["states"]]
    preferred = "shipped:eu_plus_2023.csv"
    return preferred if preferred in offered else (offered[0] if offered else "")


def _zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()
