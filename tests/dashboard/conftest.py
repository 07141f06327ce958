"""Fixtures for the dashboard's tests: the real API as a process (SQLite), users and the
worker's token, and Debian's headless Chromium driven through chromedriver.

Screenshots are the tests' artifacts, kept in ``RAYCRAFTER_TEST_ARTIFACTS/dashboard``
(default ``/var/lib/raycrafter/test-artifacts/dashboard``, replaced by each run; the path is
printed at the end of the run). docs/dashboard.png is one of them, copied by hand.
"""
import os
import pathlib
import shutil

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from support.api_server import ApiServer, create_user, ensure_worker_token, write_config

CHROMIUM = "/usr/bin/chromium"
# Given explicitly, so selenium-manager never looks for (or downloads) a driver.
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def api_server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("api")
    config = write_config(directory / "api.toml", database_url=f"sqlite:///{directory}/api.db",
                          data_dir=str(directory / "data"), amqp_url="", lease_seconds=60)
    with ApiServer(config) as server:
        yield server


@pytest.fixture(scope="module")
def tokens(api_server):
    config = api_server.config_path
    return {"alice": create_user(config, "alice"), "root": create_user(config, "root", True),
            "worker": ensure_worker_token(config)}


@pytest.fixture(scope="session")
def screenshots(request):
    root = os.environ.get("RAYCRAFTER_TEST_ARTIFACTS", "/var/lib/raycrafter/test-artifacts")
    directory = pathlib.Path(root) / "dashboard"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    request.config.add_cleanup(lambda: print(f"\ndashboard screenshots: {directory}"))
    return directory


@pytest.fixture
def browser(tmp_path):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--window-size=1400,1000", f"--user-data-dir={tmp_path / 'chromium'}",
                     "--disable-dev-shm-usage"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()
