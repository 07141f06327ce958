"""Asking the monitoring role's Prometheus through its HTTP API (``/api/v1``).

Only the queries of ``overview.py`` are ever sent: nothing a client sends becomes PromQL.
One ``Prometheus`` asks for one page: all its requests together have ``within_seconds``,
so a Prometheus that does not answer, or answers slowly, holds an API thread for seconds
at most.
"""
import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request


class PrometheusUnavailable(Exception):
    """Prometheus did not answer, or answered with an error."""


class Prometheus:
    def __init__(self, url, ca_file="", within_seconds=3.0):
        self.base = url.rstrip("/") + "/api/v1/"
        self.within_seconds = within_seconds
        self.deadline = time.monotonic() + within_seconds
        # Under a salt master Prometheus answers over TLS with its host's certificate from
        # the deployment CA; nothing else is trusted for it.
        self.tls = ssl.create_default_context(cafile=ca_file) if ca_file else None

    def query_range(self, query, start, end, step):
        """A range query's series: a list of (labels, [(unix seconds, value), ...])."""
        data = self._get("query_range", {"query": query, "start": start, "end": end,
                                         "step": step})
        return [(series["metric"], [(float(t), float(v)) for t, v in series["values"]])
                for series in data["result"]]

    def query(self, query, moment):
        """An instant query's samples: a list of (labels, value)."""
        data = self._get("query", {"query": query, "time": moment})
        return [(sample["metric"], float(sample["value"][1])) for sample in data["result"]]

    def alerts(self):
        """The alerts of every rule that is pending or firing."""
        return self._get("alerts", {})["alerts"]

    def _get(self, endpoint, parameters):
        address = self.base + endpoint
        if parameters:
            address += "?" + urllib.parse.urlencode(parameters)
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise PrometheusUnavailable(f"Prometheus at {self.base} does not answer within "
                                        f"{self.within_seconds:g} s")
        try:
            with urllib.request.urlopen(address, timeout=left,
                                        context=self.tls) as answer:
                body = json.load(answer)
        except urllib.error.HTTPError as error:
            raise PrometheusUnavailable(f"Prometheus answered {error.code} to {endpoint}") from None
        except (OSError, ValueError) as error:
            raise PrometheusUnavailable(f"Prometheus at {self.base} does not answer: "
                                        f"{getattr(error, 'reason', error)}") from None
        if body.get("status") != "success":
            raise PrometheusUnavailable(f"Prometheus refused {endpoint}: {body.get('error')}")
        return body["data"]
