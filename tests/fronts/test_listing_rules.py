"""The rules the live tests hold the fronts to, proved first on what real servers printed:
if a rule failed on a capture, it would be our invention, not PBS's."""
import json

import pytest

import real_listings
from real_listings import JOB_ID, REAL, WRAPPING, read_listing, wrapped_as_pbs

# DKFZ's peer replaced words inside three values by search-and-replace (README), which
# left those lines longer or shorter than Torque printed them.
EDITED = ("output1", "output2")


@pytest.mark.parametrize("name", sorted(WRAPPING))
def test_the_wrapping_rule_reproduces_every_real_listing_byte_for_byte(name):
    compared = 0
    for job in read_listing((REAL / name).read_text()):
        for attribute, lines in job.attributes:
            value = job.value(attribute)
            if any(edit in value for edit in EDITED):
                continue
            assert wrapped_as_pbs(attribute, value, WRAPPING[name]) == "\n".join(lines), \
                (job.job_id, attribute)
            compared += 1
    assert compared > 100


@pytest.mark.parametrize("name", sorted(WRAPPING))
def test_a_line_limit_one_off_does_not_reproduce_the_listing(name):
    """The limit is each system's own, not a tolerance: 77 is Torque's, 78 OpenPBS's."""
    for limit in (WRAPPING[name] - 1, WRAPPING[name] + 1):
        mismatches = [attribute for job in read_listing((REAL / name).read_text())
                      for attribute, lines in job.attributes
                      if wrapped_as_pbs(attribute, job.value(attribute), limit) != "\n".join(lines)]
        assert mismatches


def test_job_ids_have_the_form_number_dot_server_wherever_the_server_adds_it():
    ids = [job.job_id for listings in (real_listings.captured_listings(real_listings.PBSPRO_TEXT),
                                       real_listings.captured_listings(real_listings.TORQUE_TEXT))
           for name, jobs in listings.items() if "ichec" not in name for job in jobs]
    ids += [job_id for document, _ in real_listings.captured_json()
            for job_id, _ in real_listings.json_jobs(document)]
    assert len(ids) > 20
    assert all(JOB_ID.match(job_id) for job_id in ids), ids


def test_openpbs_json_is_four_spaces_deep_without_a_space_after_the_colon():
    for document, stdout in real_listings.captured_json():
        assert stdout.strip() == json.dumps(document, indent=4, separators=(",", ":"))
