"""The PBS Professional front's `qstat -f -F json -x` on live jobs, held to OpenPBS 23.06's
JSON as FireCREST recorded it (tests/worker/captures/real/openpbs-firecrest-*.json)."""
import json

import pytest

import real_listings

pytestmark = pytest.mark.apply

KINDS = ("running", "held", "finished", "failed", "walltime", "cancelled")


@pytest.fixture(scope="module")
def json_listing(fronts, standin_jobs):
    numbers = [standin_jobs.numbers[kind] for kind in KINDS]
    done = fronts.run("pbspro", "qstat", "-f", "-F", "json", "-x", *numbers)
    assert done.returncode == 0 and done.stderr == "", done
    return done.stdout, json.loads(done.stdout)


def kind_of(type_value):
    return "object" if isinstance(type_value, dict) else type(type_value).__name__


def captured_types():
    """{(member, key or None): JSON type} over every captured job, and the top level's."""
    top, members = {}, {}
    for document, _ in real_listings.captured_json():
        top.update({key: kind_of(value) for key, value in document.items()})
        for job in document["Jobs"].values():
            for name, value in job.items():
                members[(name, None)] = kind_of(value)
                if isinstance(value, dict):
                    members.update({(name, key): kind_of(item) for key, item in value.items()})
    return top, members


def test_the_document_has_openpbs_top_level_members_and_types(json_listing):
    document = json_listing[1]
    top, _ = captured_types()
    assert {key: kind_of(value) for key, value in document.items()} == top
    assert list(document)[:3] == ["timestamp", "pbs_version", "pbs_server"]


def test_every_member_has_the_type_openpbs_gives_it(json_listing):
    _, captured = captured_types()
    compared = 0
    for job in json_listing[1]["Jobs"].values():
        for name, value in job.items():
            if (name, None) in captured:
                assert kind_of(value) == captured[(name, None)], name
                compared += 1
            if isinstance(value, dict):
                for key, item in value.items():
                    if (name, key) in captured:
                        assert kind_of(item) == captured[(name, key)], (name, key)
                        compared += 1
    assert compared > 150


def test_every_member_is_one_openpbs_prints(json_listing):
    _, captured = captured_types()
    names = {name for job in json_listing[1]["Jobs"].values() for name in job}
    text_names = {name.split(".")[0] for name, _ in captured} | {
        name for listing in real_listings.captured_listings(real_listings.PBSPRO_TEXT).values()
        for job in listing for name in job.names()}
    assert names - text_names == set()


def test_it_is_printed_four_spaces_deep_without_a_space_after_the_colon(json_listing):
    stdout, document = json_listing
    assert stdout == json.dumps(document, indent=4, separators=(",", ":")) + "\n"


def test_json_and_text_listings_say_the_same(fronts, standin_jobs, json_listing):
    numbers = [standin_jobs.numbers[kind] for kind in KINDS]
    text = fronts.run("pbspro", "qstat", "-f", "-x", *numbers).stdout
    for listed, (job_id, flat) in zip(real_listings.read_listing(text),
                                      real_listings.json_jobs(json_listing[1])):
        assert listed.job_id == job_id
        as_text = {name: value for name, value in listed.values().items()
                   if name not in ("Variable_List", "resources_used.walltime")}
        as_json = {name: str(value) for name, value in flat.items()
                   if name not in ("Variable_List", "resources_used.walltime")}
        assert as_json == as_text
        assert ",".join(f"{key}={value}" for key, value in flat["Variable_List"].items()) == \
            listed.value("Variable_List")
