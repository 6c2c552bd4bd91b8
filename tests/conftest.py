"""Test fixtures: a real PostGIS database, migrated once per session, and a connection per test
whose transaction is rolled back afterwards.

With ``LANDGIS_DATABASE_URL`` set, the tests create their database through that server (the role
needs CREATEDB); otherwise they start the project-local cluster, as `landgis db up` does.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import URL, make_url

from landgis.db import cluster, migrate
from landgis.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEMO_PARCELS = 400
DEMO_SEED = 20221231


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A browser test that the browser process died under runs once more, in a new browser
    (pytest-rerunfailures; the report shows the rerun as R). Only that error: a failed assertion
    or a timeout in the page is the application's and fails at once."""
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.flaky(reruns=1, only_rerun=["TargetClosedError"]))


def _admin_url(settings: Settings) -> URL:
    if settings.database_url:
        return make_url(settings.database_url).set(drivername="postgresql+psycopg", database="postgres")
    return cluster.up(settings).url("postgres")


@pytest.fixture(scope="session")
def admin_url() -> URL:
    """A URL to the server's maintenance database, for creating scratch databases."""
    return _admin_url(Settings())


@pytest.fixture(scope="session")
def database_url(admin_url: URL) -> URL:
    """A fresh, migrated test database for this session (one per xdist worker)."""
    name = f"landgis_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    cluster.drop_database(admin_url, name)
    cluster.ensure_database(admin_url, name)
    url = admin_url.set(database=name)
    engine = create_engine(url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def engine(database_url: URL) -> Iterator[Engine]:
    eng = create_engine(database_url, pool_size=4, max_overflow=4)
    yield eng
    eng.dispose()


@pytest.fixture
def db(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back when the test ends."""
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            yield conn
        finally:
            if transaction.is_active:
                transaction.rollback()


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated files of the session's demo county."""
    from landgis.cli.demo import generator

    folder = tmp_path_factory.mktemp("demo-county")
    generator().generate(folder, parcels=DEMO_PARCELS, seed=DEMO_SEED)
    return folder


@pytest.fixture(scope="session")
def demo_engine(admin_url: URL, demo_folder: Path) -> Iterator[Engine]:
    """A database holding a small demo county (400 parcels), loaded once per session. Read it
    through ``demo_db`` (rolled back) so that tests never change it for each other."""
    from landgis.cli.demo import load_demo

    name = f"landgis_test_demo_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    cluster.drop_database(admin_url, name)
    cluster.ensure_database(admin_url, name)
    eng = create_engine(admin_url.set(database=name), pool_size=4, max_overflow=4)
    migrate.upgrade(eng)
    load_demo(eng, demo_folder, show=lambda label, report: None)
    yield eng
    eng.dispose()


@pytest.fixture
def demo_db(demo_engine: Engine) -> Iterator[Connection]:
    """A connection to the demo-county database, rolled back when the test ends."""
    with demo_engine.connect() as conn:
        transaction = conn.begin()
        try:
            yield conn
        finally:
            if transaction.is_active:
                transaction.rollback()


def api_client(
    app_settings: Settings,
    engine: Engine,
    conn: Connection,
    *,
    role: str = "admin",
    scope: list[str] | None = None,
    username: str | None = None,
) -> Iterator[TestClient]:
    """A test client whose requests all run on ``conn`` (each in a savepoint), so nothing they
    write outlives the test. It signs in as a user created for it (in ``conn``'s transaction) with
    ``role`` and region ``scope`` (None: every region), through a real API token."""
    from api.main import create_app
    from landgis.accounts.tokens import create_token
    from landgis.accounts.users import create_user

    name = username or f"test-{role}-{'-'.join(scope) if scope else 'all'}"
    user = create_user(conn, name, role, scope)
    _, secret = create_token(conn, user.id, "tests")
    app = create_app(app_settings, engine=engine)
    share_connection(app, conn)
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {secret}"
        yield client


_REQUEST_LOCKS: weakref.WeakKeyDictionary[Connection, threading.Lock] = weakref.WeakKeyDictionary()


def request_lock(conn: Connection) -> threading.Lock:
    """The lock that requests running on ``conn`` take (see ``share_connection``). A test holds
    it to read or write ``conn`` while a served app may be answering a browser."""
    return _REQUEST_LOCKS.setdefault(conn, threading.Lock())


def share_connection(app: FastAPI, conn: Connection) -> None:
    """Run every request of ``app`` on ``conn``, in a savepoint, one request at a time (a browser
    sends several at once to a served app), so that nothing the requests write outlives the
    test's transaction and the test sees what they wrote."""
    from api.deps import get_connection, prepare_connection

    lock = request_lock(conn)

    def shared_connection(request: Request) -> Iterator[Connection]:
        with lock:
            try:
                with conn.begin_nested():
                    prepare_connection(conn, request, app.state.settings)
                    yield conn
            finally:
                restore_connection(conn)

    app.dependency_overrides[get_connection] = shared_connection
    # The front door renders misses on connections of its own (api.tilefast), which cannot see
    # the test's uncommitted transaction: every tile goes through the route and ``conn`` instead.
    app.state.settings = app.state.settings.model_copy(update={"tile_front_render": False})


def restore_connection(conn: Connection) -> None:
    """Back to the test's own role and an unrestricted scope after a request ran on ``conn``."""
    from sqlalchemy import text

    conn.execute(text("RESET ROLE"))
    conn.execute(text("SELECT set_config('landgis.scope', '', false)"))


ClientFactory = Callable[..., TestClient]


@pytest.fixture
def client(settings: Settings, engine: Engine, db: Connection) -> Iterator[TestClient]:
    """The service on the (empty) test database as an administrator of every region;
    everything rolled back after the test."""
    yield from api_client(settings, engine, db)


@pytest.fixture
def demo_client(settings: Settings, demo_engine: Engine, demo_db: Connection) -> Iterator[TestClient]:
    """The service on the demo county as an administrator of every region; rolled back after the test."""
    yield from api_client(settings, demo_engine, demo_db)


def _factory(app_settings: Settings, engine: Engine, conn: Connection) -> Iterator[ClientFactory]:
    with ExitStack() as stack:

        def make(role: str = "viewer", scope: list[str] | None = None, username: str | None = None) -> TestClient:
            return stack.enter_context(
                contextmanager(api_client)(app_settings, engine, conn, role=role, scope=scope, username=username)
            )

        yield make


@pytest.fixture
def client_for(settings: Settings, engine: Engine, db: Connection) -> Iterator[ClientFactory]:
    """``client_for(role="officer", scope=["330699001"])``: a client signed in as such a user (test database)."""
    yield from _factory(settings, engine, db)


@pytest.fixture
def demo_client_for(settings: Settings, demo_engine: Engine, demo_db: Connection) -> Iterator[ClientFactory]:
    """``demo_client_for(role="viewer", scope=["330699001"])``: the same on the demo county."""
    yield from _factory(settings, demo_engine, demo_db)


@pytest.fixture(scope="module")
def _chromium() -> Iterator[dict[str, object]]:
    """One Playwright driver per module and the Chromium it launched (see ``browser``)."""
    from tests.browser import ARGS, CHROMIUM

    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run `bash scripts/bootstrap.sh --test`")
    from playwright.sync_api import sync_playwright

    # The driver copies its environment at start: with pw:browser it writes the browser's own
    # stderr to ours, so a test the browser dies in shows why among its captured output.
    saved = os.environ.get("DEBUG")
    os.environ["DEBUG"] = "pw:browser"
    try:
        manager = sync_playwright()
        p = manager.start()
    finally:
        if saved is None:
            del os.environ["DEBUG"]
        else:
            os.environ["DEBUG"] = saved
    held: dict[str, object] = {"launch": lambda: p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)}
    held["browser"] = held["launch"]()  # type: ignore[operator]
    try:
        yield held
    finally:
        browser = held["browser"]
        if browser.is_connected():  # type: ignore[attr-defined]
            browser.close()  # type: ignore[attr-defined]
        manager.__exit__(None, None, None)


@pytest.fixture
def browser(_chromium: dict[str, object]) -> object:
    """Debian's headless Chromium under Playwright (tests/browser.py serves the app to it),
    launched once per module; a test that finds it gone (it crashed in an earlier test, which
    failed for it) gets a new one rather than failing too."""
    if not _chromium["browser"].is_connected():  # type: ignore[attr-defined]
        _chromium["browser"] = _chromium["launch"]()  # type: ignore[operator]
    return _chromium["browser"]


@pytest.fixture
def settings(database_url: URL, tmp_path: Path) -> Settings:
    """Settings pointing at the test database, with project state in a temporary folder."""
    return Settings(database_url=database_url.render_as_string(hide_password=False), home=tmp_path / "home")
