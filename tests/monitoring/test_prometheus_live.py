"""The monitoring role as applied on this host (apply tier): Prometheus scrapes a target
for every service of the catalogue with `scrape` and finds each up, and it has loaded
every alert rule of salt/monitoring/files."""
import json
import pathlib
import urllib.request

import pytest
import yaml

from support.polling import wait_for
from support.salt_tree import CATALOGUE

pytestmark = pytest.mark.apply

PROMETHEUS = "http://127.0.0.1:9090/api/v1"
RULES = pathlib.Path(__file__).resolve().parents[2] / "salt" / "monitoring" / "files"


def query(path):
    with urllib.request.urlopen(f"{PROMETHEUS}/{path}", timeout=10) as answer:
        return json.load(answer)["data"]


def scraped_jobs():
    holders = [CATALOGUE["every_host"], *CATALOGUE["roles"].values()]
    return {service["scrape"]["job"] for holder in holders
            for service in holder.get("services", {}).values() if service.get("scrape")}


def test_every_catalogue_service_with_metrics_is_a_target_and_up():
    wait_for(lambda: all(target["health"] == "up" for target in query("targets")["activeTargets"]),
             timeout=60, interval=2, message="every target up")
    targets = query("targets")["activeTargets"]
    assert {target["labels"]["job"] for target in targets} == scraped_jobs()
    assert [target["scrapeUrl"] for target in targets if target["health"] != "up"] == []


def test_prometheus_has_loaded_every_alert_rule():
    loaded = {rule["name"] for group in query("rules")["groups"] for rule in group["rules"]}
    written = {rule["alert"] for path in RULES.glob("*.rules.yml")
               for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]}
    assert written and written <= loaded
