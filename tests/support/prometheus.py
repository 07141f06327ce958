"""A throwaway Prometheus (Debian's ``prometheus``) and node exporter on loopback, for the
operator's page's tests.

    with NodeExporter() as node, ThrowawayPrometheus(
            tmp_path, {"node": [node.target], "api": ["127.0.0.1:9464"]}, RULES) as prometheus:
        prometheus.url            # http://127.0.0.1:PORT, ready and scraping every second
        prometheus.count("query_range")   # the range queries it has answered so far

Prometheus scrapes and evaluates its rules every second, so a series has points and a rule
fires within seconds. The node exporter runs its file system collector only: the disks.
"""
import subprocess
import urllib.request

import yaml

from support.polling import wait_for
from support.postgres import free_port

PROMETHEUS = "/usr/bin/prometheus"
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
# A rule that fires at the next evaluation once a job waits: the API's own gauge of its
# database.
WAITING_RULE = [{"name": "test", "rules": [{
    "alert": "TestJobWaiting", "expr": 'raycrafter_jobs{state="pending"} > 0',
    "labels": {"severity": "warning"},
    "annotations": {"summary": "a job waits to be staged"}}]}]


class _Process:
    def __init__(self, log_path):
        self.log_path = log_path
        self.process = None

    def _start(self, command):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    def _answers(self, url):
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.process.args[0]} exited with "
                               f"{self.process.returncode}:\n{self.log()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except OSError:
            return False

    def log(self):
        with open(self.log_path, errors="replace") as log:
            return log.read()[-8000:]

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __exit__(self, *exc):
        self.stop()


class NodeExporter(_Process):
    def __init__(self, directory):
        super().__init__(directory / "node-exporter.log")
        self.target = f"127.0.0.1:{free_port()}"

    def __enter__(self):
        self._start([NODE_EXPORTER, f"--web.listen-address={self.target}",
                     "--collector.disable-defaults", "--collector.filesystem"])
        wait_for(lambda: self._answers(f"http://{self.target}/metrics"), timeout=30,
                 message="the node exporter")
        return self


class ThrowawayPrometheus(_Process):
    def __init__(self, directory, jobs, rules):
        """``jobs``: scrape job -> its targets (HOST:PORT); ``rules``: a rule file's groups."""
        super().__init__(directory / "prometheus.log")
        self.directory = directory
        self.url = f"http://127.0.0.1:{free_port()}"
        (directory / "rules.yml").write_text(yaml.safe_dump({"groups": rules}))
        (directory / "prometheus.yml").write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(directory / "rules.yml")],
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": targets}]}
                               for job, targets in jobs.items()]}))

    def __enter__(self):
        self._start([PROMETHEUS, f"--config.file={self.directory / 'prometheus.yml'}",
                     f"--storage.tsdb.path={self.directory / 'data'}",
                     f"--web.listen-address={self.url.removeprefix('http://')}"])
        wait_for(lambda: self._answers(f"{self.url}/-/ready"), timeout=60,
                 message="Prometheus ready")
        return self

    def count(self, endpoint):
        """How many requests to ``/api/v1/ENDPOINT`` Prometheus has answered (its own
        count, from its metrics)."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as answer:
            text = answer.read().decode()
        handler = f'handler="/api/v1/{endpoint}"'
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("prometheus_http_requests_total{") and handler in line)
