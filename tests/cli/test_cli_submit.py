"""`raycrafter submit`: what reaches the API, and clear refusals of bad scenes and fields."""
import io
import json
import subprocess
import tarfile

import pytest

from raycrafter_cli import exit_codes
from support.api_server import stored

SCENE = '#include "inc/colors.inc"\nsphere { <0, 1, 2>, 2 pigment { color Gold } }\n'
COLORS = "#declare Gold = rgb <1, 0.8, 0>;\n"


def members_of(archive_bytes):
    with tarfile.open(fileobj=io.BytesIO(archive_bytes), mode="r:gz") as archive:
        return {m.name: archive.extractfile(m).read().decode() for m in archive if m.isfile()}


def test_submit_a_pov_file_prints_the_job_id(cli, cluster, tmp_path):
    scene = tmp_path / "teapot.pov"
    scene.write_text(SCENE)
    result = cli.run("submit", scene, "--frames", "1-24", "--width", 320, "--height", 200)
    assert result.returncode == 0, result.stderr
    job_id = int(result.stdout)
    job = json.loads(cli.run("status", job_id, "--json").stdout)
    assert job["name"] == "teapot" and job["state"] == "pending"
    assert (job["frames"]["count"], job["width"], job["height"]) == (24, 320, 200)
    assert job["scene"]["kind"] == "pov"
    response = cluster.input_of(job_id)
    assert response.headers["X-Scene-Kind"] == "pov" and response.text == SCENE
    assert f"submitted job {job_id} (teapot): 24 frame(s) at 320x200" in result.stderr


def test_submit_a_directory_packs_the_scene_with_its_includes(cli, cluster, tmp_path):
    directory = tmp_path / "lamp"
    (directory / "inc").mkdir(parents=True)
    (directory / "lamp.pov").write_text(SCENE)
    (directory / "inc" / "colors.inc").write_text(COLORS)
    (directory / ".git").mkdir()
    (directory / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    result = cli.run("submit", directory, "--cluster", "archer", "--name", "lamp v2")
    assert result.returncode == 0, result.stderr
    job_id = int(result.stdout)
    response = cluster.input_of(job_id)
    assert response.headers["X-Scene-Kind"] == "tar.gz"
    # Files keep their names, the only .pov file is the main one; hidden ones stay home.
    assert members_of(response.content) == {"lamp.pov": SCENE, "inc/colors.inc": COLORS}
    assert cluster.job(job_id)["scene_file"] == "lamp.pov"
    job = json.loads(cli.run("status", job_id, "--json").stdout)
    assert (job["name"], job["cluster"], job["frames"]["count"]) == ("lamp v2", "archer", 1)


def test_submit_prefers_scene_pov_among_several(cli, cluster, tmp_path):
    directory = tmp_path / "shots"
    directory.mkdir()
    (directory / "scene.pov").write_text(SCENE)
    (directory / "closeup.pov").write_text("sphere { 0, 1 }\n")
    result = cli.run("submit", directory, "--json")
    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout)
    assert job["name"] == "shots"
    assert set(members_of(cluster.input_of(job["id"]).content)) == {"scene.pov", "closeup.pov"}
    assert cluster.job(job["id"])["scene_file"] == "scene.pov"


def test_submit_with_a_chosen_main_file(cli, cluster, tmp_path):
    directory = tmp_path / "shots"
    (directory / "render").mkdir(parents=True)
    (directory / "a.pov").write_text(SCENE)
    (directory / "render" / "closeup.pov").write_text(SCENE)
    result = cli.run("submit", directory, "--scene-file", "render/closeup.pov", "--json")
    assert result.returncode == 0, result.stderr
    assert cluster.job(json.loads(result.stdout)["id"])["scene_file"] == "render/closeup.pov"
    wrong = cli.run("submit", directory, "--scene-file", "render/nope.pov")
    assert wrong.returncode == exit_codes.USAGE
    assert "the scene holds no file render/nope.pov" in wrong.stderr


def test_submit_an_archive_lets_the_api_choose_or_takes_the_choice(cli, cluster, tmp_path):
    folder = tmp_path / "made by hand"
    folder.mkdir()
    (folder / "teapot.pov").write_text(SCENE)
    (folder / "other.pov").write_text(SCENE)
    archive = tmp_path / "teapot.tar.xz"
    subprocess.run(["tar", "-cJf", archive, "-C", tmp_path, "made by hand"], check=True)
    refused = cli.run("submit", archive)
    assert refused.returncode == exit_codes.API_REFUSED
    assert "other.pov, teapot.pov" in refused.stderr
    result = cli.run("submit", archive, "--scene-file", "teapot.pov", "--json")
    assert result.returncode == 0, result.stderr
    assert cluster.job(json.loads(result.stdout)["id"])["scene_file"] == "teapot.pov"


def test_submit_json_is_the_created_job(cli, tmp_path):
    scene = tmp_path / "a.pov"
    scene.write_text(SCENE)
    result = cli.run("submit", scene, "--frames", "1-100:5", "--option", "antialias=true",
                     "--option", "quality=9", "--json")
    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout)
    assert job["frames"] == {"first": 1, "last": 96, "step": 5, "count": 20}
    assert job["options"] == {"antialias": True, "quality": 9}
    assert job["progress"]["pending"] == 20


@pytest.mark.parametrize("layout, message", [
    ({}, "has no .pov file at its top"),
    ({"a.pov": "", "b.pov": ""}, "has several .pov files at its top (a.pov, b.pov) and no "
                                 "scene.pov"),
    ({"sub/scene.pov": ""}, "has no .pov file at its top"),
])
def test_submit_refuses_a_directory_without_one_scene(cli, tmp_path, layout, message):
    directory = tmp_path / "scene-dir"
    directory.mkdir()
    for name, text in layout.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    result = cli.run("submit", directory)
    assert result.returncode == exit_codes.USAGE
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_submit_refuses_a_missing_scene_and_other_files(cli, tmp_path):
    missing = cli.run("submit", tmp_path / "nope.pov")
    assert missing.returncode == exit_codes.USAGE
    assert "nope.pov: no such file or directory" in missing.stderr
    other = tmp_path / "notes.txt"
    other.write_text("not a scene")
    wrong = cli.run("submit", other)
    assert wrong.returncode == exit_codes.USAGE
    assert "a scene is a .pov file or an archive (.tar.gz" in wrong.stderr
    assert "or a directory holding the scene" in wrong.stderr


@pytest.mark.parametrize("frames, message", [
    ("24-1", "the last frame comes before the first"),
    ("1..24", "use N, FIRST-LAST or FIRST-LAST:STEP"),
    ("1-10:0", "the step must be at least 1"),
    ("\uff11-\uff12", "use N, FIRST-LAST or FIRST-LAST:STEP"),
])
def test_submit_refuses_a_bad_frame_range_before_uploading(cli, tmp_path, frames, message):
    scene = tmp_path / "a.pov"
    scene.write_text(SCENE)
    result = cli.run("submit", scene, "--frames", frames)
    assert result.returncode == exit_codes.USAGE
    assert message in result.stderr and "Traceback" not in result.stderr
    assert json.loads(cli.run("jobs", "--json").stdout)["total"] == 0


def test_submit_reports_the_apis_refusal(cli, tmp_path):
    scene = tmp_path / "a.pov"
    scene.write_text(SCENE)
    result = cli.run("submit", scene, "--frames", "1-20000")
    assert result.returncode == exit_codes.API_REFUSED
    assert result.stderr.strip() == "raycrafter: frames: 20000 frames requested, at most " \
                                    "10000 allowed"
    unknown = cli.run("submit", scene, "--cluster", "nowhere")
    assert unknown.returncode == exit_codes.API_REFUSED
    assert "cluster: unknown cluster (allowed: default, archer)" in unknown.stderr


def test_submit_takes_the_animation_from_the_ini_file_or_the_options(cli, tmp_path):
    directory = tmp_path / "orbit"
    directory.mkdir()
    (directory / "orbit.pov").write_text(SCENE.replace('#include "inc/colors.inc"\n', ""))
    (directory / "orbit.ini").write_text("Initial_Frame=1\nFinal_Frame=30\nCyclic_Animation=on\n"
                                         "Width=320\nHeight=240\n")
    job = json.loads(cli.run("submit", directory, "--json").stdout)
    assert job["animation"] == {"initial_frame": 1, "final_frame": 30, "initial_clock": 0.0,
                                "final_clock": 1.0, "cyclic": True}
    assert (job["frames"]["count"], job["width"], job["height"]) == (30, 320, 240)
    result = cli.run("submit", directory, "--json", "--frames", "5-6", "--animation", "0-60",
                     "--clock=-0.5:2.5", "--no-cyclic", "--width", "64")
    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout)
    assert job["animation"] == {"initial_frame": 0, "final_frame": 60, "initial_clock": -0.5,
                                "final_clock": 2.5, "cyclic": False}
    assert (job["frames"]["first"], job["frames"]["count"], job["width"]) == (5, 2, 64)
    wrong = cli.run("submit", directory, "--clock", "0-1")
    assert wrong.returncode == exit_codes.USAGE and "use INITIAL:FINAL" in wrong.stderr


def test_submit_carries_the_webhook_and_the_e_mail_address_told_when_the_job_ends(
        cli, api_server, tmp_path):
    scene = tmp_path / "told.pov"
    scene.write_text(SCENE)
    result = cli.run("submit", scene, "--notify-url", "https://hooks.lab.example/rc?k=1",
                     "--notify-email", "alice@lab.example")
    assert result.returncode == 0, result.stderr
    assert stored(api_server.config_path, int(result.stdout), "notify_url", "notify_email") \
        == ("https://hooks.lab.example/rc?k=1", "alice@lab.example")


@pytest.mark.parametrize("flag, value, problem", [
    ("--notify-url", "http://127.0.0.1:8080/hook", "notify_url: 127.0.0.1 is a loopback address"),
    ("--notify-email", "alice", "notify_email: must be one e-mail address"),
])
def test_submit_refuses_a_target_the_api_refuses(cli, tmp_path, flag, value, problem):
    scene = tmp_path / "told.pov"
    scene.write_text(SCENE)
    result = cli.run("submit", scene, flag, value)
    assert result.returncode == exit_codes.API_REFUSED
    assert problem in result.stderr


def test_webhook_secret_shows_the_same_secret_until_rotated(cli):
    shown = cli.run("webhook-secret")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("whsec_")
    assert cli.run("webhook-secret").stdout == shown.stdout
    rotated = cli.run("webhook-secret", "--rotate", "--json")
    assert rotated.returncode == 0, rotated.stderr
    secret = json.loads(rotated.stdout)["secret"]
    assert secret.startswith("whsec_") and f"{secret}\n" != shown.stdout
    assert cli.run("webhook-secret").stdout == f"{secret}\n"
