"""Each front's `qstat -f` on the live jobs, held to the same system's real listings:
the attribute names, their order, what a job in each state has, the continuation
wrapping and the id form. The dialects' own values are tested beside (test_pbspro_*,
test_torque_*)."""
import pytest

import listing_checks
from real_listings import captured_jobs

pytestmark = pytest.mark.apply

KINDS = ("running", "held", "finished", "failed", "walltime", "cancelled")
# Each system's line limit and the letter of an ended job; PBS Professional shows ended
# jobs from its history (-x).
SYSTEMS = {"pbspro": (78, "F", ("-x",)), "torque": (77, "C", ())}


@pytest.fixture(scope="module", params=sorted(SYSTEMS))
def listing(request, fronts, standin_jobs):
    system = request.param
    numbers = {kind: standin_jobs.numbers[kind] for kind in KINDS}
    stdout, jobs = listing_checks.live_listing(fronts, system, numbers, *SYSTEMS[system][2])
    return system, stdout, jobs


def test_each_job_is_listed_as_number_dot_server(listing):
    for job in listing[2].values():
        assert listing_checks.id_problems(job, job.values()) == []


def test_every_attribute_name_is_one_real_servers_print(listing):
    system, _, jobs = listing
    known = listing_checks.captured_names(names for names, _ in captured_jobs(system))
    assert {name for job in jobs.values() for name in job.names()} - known == set()


def test_attributes_come_in_the_order_real_servers_print_them(listing):
    system, _, jobs = listing
    rules = listing_checks.order_rules(names for names, _ in captured_jobs(system))
    for kind, job in jobs.items():
        assert listing_checks.out_of_order(job.names(), rules) == [], kind


def test_each_job_has_what_every_real_job_in_its_state_has(listing):
    system, _, jobs = listing
    required = listing_checks.required_by_state(values for _, values in captured_jobs(system))
    for kind, job in jobs.items():
        ended = job.value("job_state") == SYSTEMS[system][1]
        assert listing_checks.missing_for_state(job.values(), required, ended) == [], kind


def test_long_values_are_wrapped_onto_tab_lines_as_the_system_wraps_them(listing):
    system, stdout, jobs = listing
    assert "\n\t" in stdout
    for kind, job in jobs.items():
        assert listing_checks.wrapping_differences(job, SYSTEMS[system][0]) == [], kind
