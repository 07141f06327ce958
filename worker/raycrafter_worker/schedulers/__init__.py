"""Scheduler adapters: one small class per batch system that only builds command lines and
parses their output (the AiiDA way). Running the commands is the transport's business, so
the parsers can be tested against captured real output without a cluster.
"""
from .base import ENDED, QUEUED, RUNNING, BatchJob, Scheduler, is_empty_listing
from .pbs import PbsScheduler
from .slurm import SlurmScheduler

__all__ = ["ENDED", "QUEUED", "RUNNING", "BatchJob", "Scheduler", "is_empty_listing",
           "for_profile"]
_BY_NAME = {scheduler.name: scheduler for scheduler in (PbsScheduler, SlurmScheduler)}


def for_profile(profile):
    return _BY_NAME[profile.scheduler](profile)
