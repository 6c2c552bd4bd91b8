"""Pages in headless Chromium (Debian's chromium, driven by Playwright; no browser is downloaded)
against the service behind a real uvicorn on a free port.

``serving(app)`` runs the app; ``sign_in`` logs in through /login as a person would; ``Watch``
records every request a page makes and every JS error it raises, so that a test can assert that
nothing left the service. The ``browser`` fixture (tests/conftest.py) launches Chromium once per
module. Screenshots go to ``ARTIFACTS``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import uvicorn

from landgis.settings import project_root

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = project_root() / "test-artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-gl=swiftshader",
    "--enable-unsafe-swiftshader",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: object) -> Iterator[str]:
    """``app`` behind uvicorn on a free local port, in a thread; yields the base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")  # type: ignore[arg-type]
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started:
        assert time.monotonic() < deadline, "the service did not start"
        assert thread.is_alive(), "the service failed to start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def sign_in(page: object, base: str, username: str, password: str, target: str) -> None:
    """Sign in through the log-in page, as a person would: an anonymous visit to ``target`` is
    sent to /login, which brings the browser back after the log-in."""
    page.goto(f"{base}{target}")  # type: ignore[attr-defined]
    assert urlsplit(page.url).path == "/login", page.url  # type: ignore[attr-defined]
    page.fill("input[name=username]", username)  # type: ignore[attr-defined]
    page.fill("input[name=password]", password)  # type: ignore[attr-defined]
    page.click("form button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url(f"{base}{target}")  # type: ignore[attr-defined]


class Watch:
    """Every request a page makes and every JS error it raises."""

    def __init__(self, page: object, base: str) -> None:
        self.base = urlsplit(base).netloc
        self.foreign: list[str] = []
        self.errors: list[str] = []
        self.failed: list[str] = []
        page.on("request", self._request)  # type: ignore[attr-defined]
        page.on("pageerror", lambda e: self.errors.append(str(e)))  # type: ignore[attr-defined]
        page.on("response", self._response)  # type: ignore[attr-defined]

    def _request(self, request: object) -> None:
        url = urlsplit(request.url)  # type: ignore[attr-defined]
        if url.scheme in ("data", "blob") and (url.scheme == "data" or self.base in url.path):
            return
        if url.netloc != self.base:
            self.foreign.append(request.url)  # type: ignore[attr-defined]

    def _response(self, response: object) -> None:
        status = response.status  # type: ignore[attr-defined]
        url = urlsplit(response.url)  # type: ignore[attr-defined]
        if status >= 400 and url.path != "/login":  # the anonymous first visit is sent to /login (303)
            self.failed.append(f"{status} {url.path}")

    def check(self, *refused: str) -> None:
        """No request outside the service, no JS error, and no failed request but the ``refused``
        ones, given as "status path" (e.g. "409 /parcels/7/transitions"), in the order made."""
        assert self.foreign == [], f"requests outside the service: {self.foreign}"
        assert self.errors == [], f"JS errors: {self.errors}"
        assert self.failed == list(refused), f"failed requests: {self.failed}"
