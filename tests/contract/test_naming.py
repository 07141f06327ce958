"""Batch names: the API hands out rc-JOB-aATTEMPT, the worker finds a job's batch jobs, and
all of its appliance's (a queue limit counts those), by the same pattern."""
from raycrafter_contract.naming import batch_name, batch_name_pattern


def test_a_jobs_batch_names_are_found_behind_the_prefix_and_no_others():
    pattern = batch_name_pattern(12, "wt1-")
    assert pattern.match("wt1-" + batch_name(12, 3)).group(1) == "3"
    for other in ("wt1-rc-120-a3", "rc-12-a3", "wt2-rc-12-a3", "wt1-rc-12-a3x"):
        assert not pattern.match(other), other


def test_every_job_of_an_appliance_is_found_when_no_job_is_named():
    pattern = batch_name_pattern(None, "wt1-")
    assert [name for name in ("wt1-rc-1-a1", "wt1-rc-120-a3", "rc-1-a1", "wt1-rc-x-a1",
                              "wt1-block") if pattern.match(name)] == ["wt1-rc-1-a1",
                                                                       "wt1-rc-120-a3"]
