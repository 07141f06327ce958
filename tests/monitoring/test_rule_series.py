"""Every series an alert rule names exists in a live scrape of what exports it: the API
and the worker started as processes here, Debian's node exporter and PostgreSQL exporter
started on loopback against a throwaway PostgreSQL, and RabbitMQ's own plugin on the
applied appliance (marker ``apply``). A rule naming a series nothing exports would never
fire; a series renamed on one side only fails here."""
import os
import pathlib
import re
import secrets
import subprocess
import sys

import pytest
import yaml

from support.api_server import ApiServer, ensure_worker_token, write_config
from support.postgres import free_port
from support.metrics_scrape import scrape
from support.polling import wait_for
from support.postgres import ThrowawayPostgres
from support.salt_tree import CATALOGUE
from support.worker_harness import write_worker_config

RULES = pathlib.Path(__file__).resolve().parents[2] / "salt" / "monitoring" / "files"
# Which exporter serves a series, by its name's beginning (the first that matches).
EXPORTERS = (("raycrafter_worker_", "worker"), ("raycrafter_", "api"),
             ("node_", "node"), ("pg_", "postgresql"), ("rabbitmq_", "rabbitmq"))
# Prometheus makes these itself for every target.
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
# PromQL words that are not series: functions are followed by "(", these are not.
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
            "group_right", "offset", "bool", "inf", "nan"}


def named_series(expr):
    """The series names in a PromQL expression: what is left once strings, label
    matchers, ranges, numbers, functions and keywords are taken out."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", bare)
    bare = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ",
                  bare)
    names = set()
    for match in re.finditer(r"(?<![\w.])([A-Za-z_:][\w:]*)(\s*\()?", bare):
        word, call = match.groups()
        if not call and word.lower() not in KEYWORDS:
            names.add(word)
    return names


def rule_series():
    """{exporter: {series named by a rule}} over every rule file."""
    wanted = {}
    for path in sorted(RULES.glob("*.rules.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                for name in named_series(rule["expr"]) - SYNTHETIC:
                    exporter = next((e for prefix, e in EXPORTERS if name.startswith(prefix)),
                                    None)
                    assert exporter, f"{path.name}: {rule.get('alert')}: no exporter for {name}"
                    wanted.setdefault(exporter, set()).add(name)
    return wanted


def test_the_names_are_read_out_of_promql():
    assert named_series('sum by (cluster) (increase(a_total{job="x"}[30m])) >= 3') == {"a_total"}
    assert named_series("max(b_seconds) > 300 and on (instance) c == 0 or absent(d)") == {
        "b_seconds", "c", "d"}
    assert named_series("predict_linear(e_bytes[6h], 86400) < 0 offset 5m") == {"e_bytes"}
    assert set(rule_series()) >= {"api", "worker", "node", "postgresql", "rabbitmq"}


@pytest.fixture(scope="module")
def postgres():
    server = ThrowawayPostgres().start()
    yield server
    server.stop()


def _multiprocess(directory):
    return {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}


def _process(command, log_path, environment=None):
    with open(log_path, "ab") as log:
        return subprocess.Popen(command, env=environment, stdout=log,
                                stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def exporters(postgres, tmp_path_factory):
    """{exporter: its metrics URL} for the API, the worker, the node exporter and the
    PostgreSQL exporter, each started here on loopback."""
    here = tmp_path_factory.mktemp("exporters")
    ports = {name: free_port() for name in ("api", "worker", "node", "postgresql")}
    config = write_config(here / "api.toml", database_url=postgres.create_database("rules"),
                          data_dir=str(here / "data"), metrics_listen=f"127.0.0.1:{ports['api']}")
    # Each with a multiprocess directory, as Supervisor starts them: a series then shows
    # only once a process made it.
    api = ApiServer(config, environment=_multiprocess(here / "api-metrics")).start()
    ensure_worker_token(config, str(here))
    key = here / "cluster.key"
    key.write_text("unused: the worker reaches no cluster here\n")
    nowhere = f"127.0.0.1:{free_port()}"  # no broker, no API: the worker keeps trying
    worker_config = write_worker_config(
        here / "worker.toml",
        {"api_url": f"http://{nowhere}", "api_token_file": str(here / "worker.token"),
         "amqp_url": f"amqp://worker:{secrets.token_hex(4)}@{nowhere}/",
         "metrics_listen": f"127.0.0.1:{ports['worker']}"},
        {"standin": {"login_host": "127.0.0.1", "user": "render", "key_file": str(key),
                     "known_hosts_file": str(key), "scheduler": "slurm", "launcher": "srun",
                     "scratch": "/scratch", "nodeagent": "/opt/nodeagent",
                     "agent_api_url": "https://api.invalid", "transfer": "sftp"}})
    processes = [
        _process([sys.executable, "-m", "raycrafter_worker", "--config", worker_config],
                 here / "worker.log", _multiprocess(here / "worker-metrics")),
        _process(["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{ports['node']}"],
                 here / "node.log"),
        _process(["prometheus-postgres-exporter",
                  f"--web.listen-address=127.0.0.1:{ports['postgresql']}"], here / "pg.log",
                 {"DATA_SOURCE_NAME": postgres.url("rules") + "?sslmode=disable"}),
    ]
    urls = {name: f"http://127.0.0.1:{port}/metrics" for name, port in ports.items()}
    for name, url in urls.items():
        wait_for(lambda: _answers(url), timeout=30,
                 message=f"the {name} metrics ({here / (name + '.log')})")
    yield urls
    for process in processes:
        process.terminate()
        process.wait(timeout=15)
    api.stop()


def _answers(url):
    try:
        return scrape(url)
    except OSError:
        return None


@pytest.mark.parametrize("exporter", ["api", "worker", "node", "postgresql"])
def test_every_series_a_rule_names_is_in_a_live_scrape_of_its_exporter(exporters, exporter):
    wanted = rule_series()[exporter]
    assert wanted - scrape(exporters[exporter]).names() == set()


@pytest.mark.apply
def test_every_rabbitmq_series_a_rule_names_is_in_a_scrape_of_the_applied_broker():
    port = CATALOGUE["roles"]["broker"]["services"]["rabbitmq_metrics"]["port"]
    wanted = rule_series()["rabbitmq"]
    assert wanted - scrape(f"http://127.0.0.1:{port}/metrics").names() == set()
