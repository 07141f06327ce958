"""Reading a Prometheus scrape the way Prometheus does (prometheus_client's own parser).

    samples = scrape("http://127.0.0.1:9464/metrics")
    samples.value("raycrafter_frames_completed_total")
    samples.value("raycrafter_jobs", state="running")
    samples.names()          # every series name the scrape carries, samples or not
"""
import ssl
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


class Scrape:
    def __init__(self, text):
        self.families = list(text_string_to_metric_families(text))

    def value(self, name, **labels):
        """The sample's value; 0 for a series without that sample (none counted yet)."""
        for family in self.families:
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return sample.value
        return 0.0

    def names(self):
        """Every sample name a family of the scrape may carry (a counter's ``_total``, a
        histogram's ``_bucket``, ``_count`` and ``_sum``), with or without samples."""
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"),
                    "summary": ("_count", "_sum", "")}
        names = set()
        for family in self.families:
            names.add(family.name)
            names.update(family.name + suffix for suffix in suffixes.get(family.type, ()))
            names.update(sample.name for sample in family.samples)
        return names


def scrape(url, ca_file=None, timeout=10):
    context = ssl.create_default_context(cafile=ca_file) if ca_file else None
    with urllib.request.urlopen(url, timeout=timeout, context=context) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain")
        return Scrape(answer.read().decode())
