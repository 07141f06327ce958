"""The appliance's health page in a real browser: an admin sees the numbers, graphs with
points and the firing alert that a real Prometheus (a throwaway process scraping the API's
own metrics and a node exporter) measured of the real API; a user has no such page; with
Prometheus gone the page says so and the rest of the dashboard works."""
import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from support.api_server import ApiServer, write_config
from support.api_testing import job_fields, scene_upload
from support.postgres import free_port
from support.prometheus import WAITING_RULE, NodeExporter, ThrowawayPrometheus
from test_dashboard import sign_in, wait

# Where the API serves its metrics, for Prometheus's configuration before the API starts.
API_METRICS = f"127.0.0.1:{free_port()}"

@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    """A node exporter, and a Prometheus (not yet started) that scrapes it and the API."""
    directory = tmp_path_factory.mktemp("prometheus")
    with NodeExporter(directory) as node:
        yield ThrowawayPrometheus(directory, {"api": [API_METRICS], "node": [node.target]},
                                  WAITING_RULE)


@pytest.fixture(scope="module")
def api_server(tmp_path_factory, prometheus):
    directory = tmp_path_factory.mktemp("api")
    config = write_config(directory / "api.toml", database_url=f"sqlite:///{directory}/api.db",
                          data_dir=str(directory / "data"), amqp_url="",
                          metrics_listen=API_METRICS, prometheus_url=prometheus.url)
    with ApiServer(config) as server, prometheus:
        yield server


def tile(browser, name):
    found = browser.find_elements(By.CSS_SELECTOR, f'#health-numbers [data-name="{name}"] .value')
    return found[0].text if found else None


def pending_points(browser):
    """How many points the jobs graph's line of pending jobs has, as drawn."""
    return browser.execute_script(
        "const line = document.querySelector('[data-graph=\"jobs\"] polyline[data-label=\"pending\"]');"
        "return line ? line.getAttribute('points').trim().split(/\\s+/).length : 0;")


def test_an_admin_sees_the_numbers_the_graphs_and_the_firing_alert(
        browser, api_server, prometheus, tokens, screenshots):
    submitted = requests.post(f"{api_server.url}/jobs", data=job_fields(), files=scene_upload(),
                              headers={"Authorization": f"Bearer {tokens['alice']}"}, timeout=30)
    assert submitted.status_code == 201, submitted.text
    sign_in(browser, api_server, tokens["root"])
    browser.find_element(By.ID, "nav-health").click()
    Select(browser.find_element(By.ID, "health-window")).select_by_value("15m")
    wait(browser, lambda: tile(browser, "alerts-firing") == "1" and pending_points(browser) >= 3,
         timeout=120)
    # What the API's database holds, as Prometheus scraped it: the job, and its command
    # waiting in the outbox (no relay runs here).
    assert tile(browser, "jobs-pending") == "1"
    assert tile(browser, "outbox") == "1"
    assert tile(browser, "targets-down") == "0 of 2"
    alerts = [[cell.text for cell in tr.find_elements(By.TAG_NAME, "td")][:5]
              for tr in browser.find_elements(By.CSS_SELECTOR, "#alerts-table tbody tr")]
    assert [alert[:3] + alert[4:] for alert in alerts] == [
        ["TestJobWaiting", "firing", "warning", "a job waits to be staged"]]
    graphs = [figure.get_attribute("data-graph")
              for figure in browser.find_elements(By.CSS_SELECTOR, "#health-graphs figure")]
    assert graphs == ["jobs", "frames", "queues", "disks"]
    [host] = browser.find_elements(By.CSS_SELECTOR, "#hosts-table tbody tr")
    cells = [cell.text for cell in host.find_elements(By.TAG_NAME, "td")]
    targets = [(target.text, target.get_attribute("class"))
               for target in host.find_elements(By.CSS_SELECTOR, ".target")]
    assert cells[0] == "127.0.0.1" and targets == [("api", "target up"), ("node", "target up")]
    assert "/: " in cells[2] and " free of " in cells[2]
    browser.save_screenshot(str(screenshots / "health.png"))

    prometheus.stop()
    wait(browser, lambda: "Prometheus cannot be asked" in browser.find_element(
        By.ID, "health-message").text, timeout=30)
    assert not browser.find_element(By.ID, "health-content").is_displayed()
    browser.find_element(By.CSS_SELECTOR, 'a[href="#/jobs"]').click()
    browser.find_element(By.ID, "filter-everyone").click()
    wait(browser, lambda: [tr.get_attribute("data-job-id") for tr in browser.find_elements(
        By.CSS_SELECTOR, "#jobs-table tbody tr")] == [str(submitted.json()["id"])])


def test_a_user_has_no_health_page(browser, api_server, tokens):
    sign_in(browser, api_server, tokens["alice"])
    assert not browser.find_element(By.ID, "nav-health").is_displayed()
    browser.get(api_server.base + "/dashboard/#/health")
    wait(browser, lambda: browser.find_element(By.ID, "jobs-view").is_displayed())
    assert not browser.find_element(By.ID, "health-view").is_displayed()
