"""Per-browser sessions of the explorer, each with its own temporary folder.

Uploads, the last plan and report downloads live in the session's folder under one root made with
`tempfile.mkdtemp` when the server starts and removed when it stops: the explorer writes nothing
anywhere else (a download is sent to the browser, which saves it). The oldest session is dropped,
folder and all, when there are more than MAX_SESSIONS.
"""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..io.cases import load_cases
from ..io.states import load_states
from ..pipeline import RunResult
from ..settings import Variant

MAX_SESSIONS = 32
# Variants a session can hold side by side.
MAX_VARIANTS = 8
COOKIE = "relocate_session"


def safe_name(name: str, fallback: str) -> str:
    """A file name from an upload's name: letters, digits, dot, dash and underscore only."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name or "").name).strip("._")[:80]
    return stem if stem.lower().endswith(".csv") else (stem or fallback) + ".csv"


@dataclass
class Session:
    id: str
    folder: Path
    uploads: dict[str, Path] = field(default_factory=dict)  # "states" / "cases" -> file
    last: RunResult | None = None  # the last solved plan, for downloads and the comparison
    variants: list[tuple[Variant, RunResult]] = field(default_factory=list)
    downloads: int = 0
    _tables: dict[tuple, pd.DataFrame] = field(default_factory=dict)

    def store_upload(self, role: str, name: str, content: bytes) -> Path:
        """Save an uploaded CSV and read it as the CLI would; a bad file is refused and removed, and
        the error names the upload as the user knows it, not its path here."""
        folder = self.folder / "uploads" / role
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        path = folder / safe_name(name, role)
        path.write_bytes(content)
        try:
            self.table(role, path)
        except InputError as err:
            shutil.rmtree(folder)
            raise InputError(self.public(str(err))) from None
        self.uploads[role] = path
        return path

    def table(self, role: str, path: Path) -> pd.DataFrame:
        """The states or cases table of `path`, read once per file version."""
        info = path.stat()
        key = (role, str(path), info.st_mtime_ns, info.st_size)
        if key not in self._tables:
            self._tables[key] = load_states(path) if role == "states" else load_cases(path)
        return self._tables[key]

    def public(self, message: str) -> str:
        """A message with this session's folder taken out of any path in it."""
        return message.replace(str(self.folder / "uploads" / "states") + "/", "").replace(str(self.folder / "uploads" / "cases") + "/", "")

    def download_folder(self) -> Path:
        self.downloads += 1
        folder = self.folder / "downloads" / str(self.downloads)
        folder.mkdir(parents=True)
        return folder


class Sessions:
    """Every session of one server, under one temporary root."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="relocate-serve-"))
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session_id: str | None) -> Session:
        with self._lock:
            if session_id and session_id in self._sessions:
                self._sessions.move_to_end(session_id)
                return self._sessions[session_id]
            new_id = secrets.token_urlsafe(18)
            folder = self.root / new_id
            folder.mkdir()
            session = self._sessions[new_id] = Session(new_id, folder)
            while len(self._sessions) > MAX_SESSIONS:
                _, old = self._sessions.popitem(last=False)
                shutil.rmtree(old.folder, ignore_errors=True)
            return session

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
