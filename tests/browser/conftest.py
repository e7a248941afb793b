"""One service per test session (uvicorn in a thread, worker and projections in process) and
Debian's Chromium driven by Playwright; each test gets a fresh browser context (no cookies).
The browser tests share one xdist group, so one worker runs them all against one service."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
import uvicorn
from pydantic import SecretStr

from bootstrap import Services, bootstrap
from infrastructure.settings import Settings
from interfaces.http.auth import Role, mint
from tests.conftest import TEMPLATE, create_database, drop_database
from tests.e2e.conftest import free_port

SECRET = "browser-secret-" + "b" * 40
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@dataclass
class Site:
    base_url: str
    services: Services

    def token(self, org_id: UUID, role: Role = Role.COORDINATOR, sub: str = "kari") -> str:
        return mint(SECRET, sub, org_id, role)

    def api(self, org_id: UUID, role: Role = Role.ADMIN) -> httpx.Client:
        return httpx.Client(base_url=f"{self.base_url}/v1/orgs/{org_id}", timeout=15,
                            headers={"Authorization": f"Bearer {self.token(org_id, role)}"})


@pytest.fixture(scope="session")
def site(pg_admin_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Site]:
    url = create_database(pg_admin_url, TEMPLATE)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # Delivery may aim only at the stand-ins on 127.0.0.1.
    settings = Settings(data_dir=tmp_path_factory.mktemp("site"), jwt_secret=SecretStr(SECRET),
                        demo_data=False, public_url=base, delivery_hosts="127.0.0.1",
                        delivery_retry_initial_seconds=0.05, delivery_retry_max_seconds=0.2)
    services = bootstrap(settings, database_url=url)
    from interfaces.server import build_app

    server = uvicorn.Server(uvicorn.Config(build_app(services), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="browser-site", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("the service did not start")
        time.sleep(0.05)
    try:
        yield Site(base, services)
    finally:
        server.should_exit = True
        thread.join(30)
        services.close()
        drop_database(pg_admin_url, url)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Per module, not per session: while Playwright's sync API is open, its event loop counts
    as running in this thread, and other tests on the same worker call asyncio.run()."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Any]:
    context = browser.new_context(base_url=site.base_url, accept_downloads=True,
                                  locale="nb-NO", timezone_id="Europe/Oslo")
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def org_id() -> UUID:
    return uuid4()


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name
