"""What the database knows, read from it when Prometheus scrapes: jobs by state, how long
the oldest job has sat in each state, and the outbox's depth and oldest command.

Read at scrape time rather than kept by the processes: the database is the one place that
knows the whole appliance, whichever process answers the scrape and however many there
are (a count kept in a process would miss jobs the other processes and the relay moved).
Two grouped statements over indexed columns: bench/metrics_cost.py times a scrape over
10,000 jobs.
"""
import peewee
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from raycrafter_contract.states import FINAL_JOB_STATES, JOB_STATES

from .. import timeutil
from ..database import db
from ..database.models import Command, Job


class DatabaseGauges(Collector):
    def collect(self):
        with db.connection():
            by_state = list(Job.select(Job.state, peewee.fn.COUNT(Job.id).alias("jobs"),
                                       peewee.fn.MIN(Job.state_changed_at).alias("since"))
                            .group_by(Job.state).namedtuples())
            outbox = (Command.select(peewee.fn.COUNT(Command.id).alias("depth"),
                                     peewee.fn.MIN(Command.created_at).alias("oldest"))
                      .where(Command.sent_at.is_null()).namedtuples().get())
        now = timeutil.now()
        jobs = GaugeMetricFamily("raycrafter_jobs", "Jobs in each state.", labels=["state"])
        oldest = GaugeMetricFamily(
            "raycrafter_jobs_oldest_in_state_seconds",
            "How long the job longest in each unfinished state has been in it (0: none).",
            labels=["state"])
        counted = {row.state: row for row in by_state}
        for state in JOB_STATES:
            row = counted.get(state)
            jobs.add_metric([state], row.jobs if row else 0)
            if state not in FINAL_JOB_STATES:
                oldest.add_metric([state], _age(now, row.since) if row else 0)
        yield jobs
        yield oldest
        yield GaugeMetricFamily("raycrafter_outbox_commands",
                                "Commands in the outbox the broker has not confirmed yet.",
                                value=outbox.depth)
        yield GaugeMetricFamily("raycrafter_outbox_oldest_command_age_seconds",
                                "Age of the oldest command in the outbox (0: it is empty).",
                                value=_age(now, outbox.oldest) if outbox.oldest else 0)


def _age(now, moment):
    return max(0.0, (now - moment).total_seconds())
