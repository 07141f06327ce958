"""Scheduler adapters: one small class per batch system that only builds command lines and
parses their output (the AiiDA way). Running the commands is the transport's business, so
the parsers can be tested against captured real output without a cluster.
"""
from .base import ENDED, QUEUED, RUNNING, BatchJob, Scheduler, UnreadableListing
from .pbs_wrappers import PbsWrappersScheduler
from .pbspro import PbsProScheduler
from .slurm import SlurmScheduler
from .torque import TorqueScheduler

__all__ = ["ENDED", "QUEUED", "RUNNING", "BatchJob", "Scheduler", "UnreadableListing",
           "ADAPTERS", "for_profile"]
ADAPTERS = {adapter.name: adapter for adapter in (
    SlurmScheduler, PbsProScheduler, TorqueScheduler, PbsWrappersScheduler)}


def for_profile(profile):
    return ADAPTERS[profile.scheduler](profile)
