"""What a user gets back from a job: `raycrafter download` (PNG files) and `logs`."""
import json
import os
import struct
import zlib

from raycrafter_cli import exit_codes

from cli_harness import png


def assert_valid_png(data, size=2):
    """Signature, chunk CRCs, IHDR first and IEND last, and pixel data of the right size."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, kinds, pixels = 8, [], b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position:position + 4])
        kind = data[position + 4:position + 8]
        body = data[position + 8:position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length:position + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        kinds.append(kind)
        pixels += body if kind == b"IDAT" else b""
        position += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    assert len(zlib.decompress(pixels)) == size * (1 + 3 * size)


def test_download_writes_every_frame_as_a_png(cli, submit, cluster, tmp_path):
    job_id = submit("--frames", "1-3")
    cluster.finish(job_id)
    target = tmp_path / "out" / "frames"
    result = cli.run("download", job_id, target)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"downloaded 3 frame(s) to {target}\n"
    assert sorted(os.listdir(target)) == ["frame_00001.png", "frame_00002.png", "frame_00003.png"]
    for number in (1, 2, 3):
        data = (target / f"frame_{number:05d}.png").read_bytes()
        assert data == png(number)
        assert_valid_png(data)
    again = cli.run("download", job_id, target, "--json")
    assert again.returncode == 0, again.stderr
    listing = json.loads(again.stdout)
    assert listing["count"] == 3 and listing["frames_total"] == 3
    assert listing["files"] == [str(target / f"frame_{n:05d}.png") for n in (1, 2, 3)]
    assert len(os.listdir(target)) == 3, "no temporary files are left behind"


def test_download_of_a_job_still_collecting_fetches_what_is_there(cli, submit, cluster,
                                                                  tmp_path):
    job_id = submit("--frames", "1-3")
    cluster.start(job_id)
    for _ in range(3):
        cluster.render_one(job_id)
    nothing_yet = cli.run("download", job_id, tmp_path / "early")
    assert nothing_yet.returncode == exit_codes.API_REFUSED
    assert nothing_yet.stderr == "raycrafter: no frame image has been collected yet\n"
    cluster.upload(job_id, 2)
    result = cli.run("download", job_id, tmp_path / "partial")
    assert result.returncode == 0, result.stderr
    assert os.listdir(tmp_path / "partial") == ["frame_00002.png"]
    assert "2 of 3 frames have no image yet" in result.stderr


def test_download_into_a_file_is_refused(cli, submit, tmp_path):
    job_id = submit()
    blocker = tmp_path / "taken"
    blocker.write_text("")
    result = cli.run("download", job_id, blocker)
    assert result.returncode == exit_codes.USAGE
    assert f"cannot create {blocker}" in result.stderr


def test_logs_show_the_events_and_the_log_of_a_failed_frame(cli, submit, cluster):
    job_id = submit("--frames", "1-3")
    cluster.start(job_id)
    for attempt in (1, 2):  # max_attempts is 2
        cluster.fail_one(job_id, "Parse Error",
                         f"scene.pov:3: undeclared identifier (try {attempt})")
    result = cli.run("logs", job_id)
    assert result.returncode == 0, result.stderr
    events, _, logs = result.stdout.partition("\n\n")
    assert "job         - -> pending" in events
    assert "frame 1     pending -> leased" in events
    assert "frame 1     leased -> failed" in events and "Parse Error" in events
    assert "job         running -> failed" in events
    assert logs == ("== frame 1: failed, 2 failed attempt(s), last error: Parse Error\n"
                    "scene.pov:3: undeclared identifier (try 2)\n")
    as_json = json.loads(cli.run("logs", job_id, "--json").stdout)
    assert as_json["events"][0]["to"] == "pending"
    assert [(f["frame"], f["state"]) for f in as_json["frame_logs"]] == [(1, "failed")]


def test_logs_of_rendered_frames_and_of_one_frame(cli, submit, cluster):
    job_id = submit("--frames", "1-2")
    cluster.finish(job_id)
    result = cli.run("logs", job_id)
    assert "== frame 2: done, 0 failed attempt(s)\nPOV-Ray rendered frame 2\n" in result.stdout
    one = cli.run("logs", job_id, "--frame", 2)
    assert one.returncode == 0 and one.stdout == "POV-Ray rendered frame 2\n"
    missing = cli.run("logs", job_id, "--frame", 7)
    assert missing.returncode == exit_codes.API_REFUSED
    assert missing.stderr == "raycrafter: frame not found\n"


def test_logs_of_a_frame_not_rendered_yet(cli, submit):
    job_id = submit()
    result = cli.run("logs", job_id, "--frame", 1)
    assert result.returncode == 0
    assert result.stdout == "" and "frame 1 has no log yet" in result.stderr
