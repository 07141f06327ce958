"""`raycrafter jobs`, `status` and `cancel`: what a user sees of their jobs."""
import json
import re

from raycrafter_cli import exit_codes
from support.api_server import create_user


def test_jobs_lists_the_users_jobs_newest_first(cli, submit, cluster):
    first = submit("--frames", "1-3", "--name", "teapot")
    second = submit("--frames", "1-24", "--name", "a very long name for a job " * 3)
    cluster.start(first)
    cluster.render_one(first)
    result = cli.run("jobs")
    assert result.returncode == 0, result.stderr
    rows = [re.split(r"\s{2,}", line) for line in result.stdout.splitlines()]
    assert rows[0] == ["ID", "NAME", "STATE", "FRAMES", "CREATED"]
    assert rows[1][:4] == [str(second), "a very long name for a job a...", "pending", "0/24"]
    assert rows[2][:4] == [str(first), "teapot", "running", "1/3"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", rows[2][4])
    assert len(rows) == 3


def test_jobs_json_filters_and_pages(cli, submit):
    ids = [submit() for _ in range(3)]
    cli.run("cancel", ids[0])
    page = json.loads(cli.run("jobs", "--json", "--limit", "1").stdout)
    assert [j["id"] for j in page["jobs"]] == [ids[2]] and page["total"] == 3
    limited = cli.run("jobs", "--limit", "2")
    assert "showing 2 of 3 jobs" in limited.stderr
    cancelled = json.loads(cli.run("jobs", "--json", "--state", "cancelled").stdout)
    assert [j["id"] for j in cancelled["jobs"]] == [ids[0]]


def test_jobs_says_when_there_are_none(cli):
    result = cli.run("jobs")
    assert result.returncode == 0
    assert result.stdout == "" and "no jobs" in result.stderr


def test_status_shows_the_job(cli, submit):
    job_id = submit("--frames", "1-100:5", "--width", "320", "--height", "240",
                    "--name", "teapot")
    result = cli.run("status", job_id)
    assert result.returncode == 0, result.stderr
    fields = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert fields["job"] == f"{job_id} teapot"
    assert fields["state"] == "pending"
    assert fields["frames"].startswith("1-96:5 (20 frames: 20 pending, 0 leased, 0 done")
    assert fields["size"] == "320x240"
    assert "error" not in fields
    as_json = json.loads(cli.run("status", job_id, "--json").stdout)
    assert as_json["id"] == job_id and as_json["frames"]["count"] == 20


def test_status_of_a_failed_job_shows_the_reason(cli, submit, cluster):
    job_id = submit()
    cluster.transition(job_id, "failed", reason="scene.pov:3: Parse Error")
    fields = dict(line.split(None, 1) for line in cli.run("status", job_id).stdout.splitlines())
    assert fields["state"] == "failed" and fields["error"] == "scene.pov:3: Parse Error"


def test_unknown_or_foreign_jobs_are_not_found(cli, submit, api_server):
    other = create_user(api_server.config_path, "mallory-jobs")
    foreign = submit()
    for command in (["status", 999999], ["wait", 999999], ["cancel", 999999],
                    ["logs", 999999], ["download", 999999, "out"]):
        result = cli.run(*command)
        assert result.returncode == exit_codes.API_REFUSED, (command, result.stderr)
        assert result.stderr == "raycrafter: job not found\n"
    result = cli.run("status", foreign, RAYCRAFTER_TOKEN=other)
    assert result.returncode == exit_codes.API_REFUSED
    assert result.stderr == "raycrafter: job not found\n"


def test_a_job_id_must_be_a_number(cli):
    result = cli.run("status", "twelve")
    assert result.returncode == exit_codes.USAGE
    assert "'twelve' is not a whole number of at least 1" in result.stderr


def test_cancel_cancels_once(cli, submit):
    job_id = submit()
    result = cli.run("cancel", job_id)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"job {job_id} cancelled\n"
    assert json.loads(cli.run("status", job_id, "--json").stdout)["state"] == "cancelled"
    again = cli.run("cancel", job_id, "--json")
    assert again.returncode == exit_codes.API_REFUSED
    assert again.stderr == "raycrafter: the job is already cancelled\n"
    assert again.stdout == ""
