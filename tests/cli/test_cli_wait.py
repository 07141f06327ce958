"""`raycrafter wait` and `submit --wait`: progress while the job moves, and an exit
status that says how it ended."""
import fcntl
import json
import os
import pty
import re
import signal
import struct
import termios

from raycrafter_cli import exit_codes

from cli_harness import FakeCluster, OutputReader, TlsProxy, png
from support.api_server import ApiServer, create_user, ensure_worker_token, write_config
from support.nginx_front import NginxFront

LINE = re.compile(r"^job (\d+): (\w+), (\d+)/(\d+) frames done(?:, (\d+) failed)?, "
                  r"elapsed \d+:\d\d(, ETA \d+:\d\d)?$")


def pipe_reader(process):
    return OutputReader(lambda: process.stdout.read1(4096))


def test_wait_prints_one_plain_line_per_change_until_done(cli, submit, cluster):
    job_id = submit("--frames", "1-3")
    process = cli.start("wait", job_id)
    output = pipe_reader(process)
    output.wait_for(f"job {job_id}: pending, 0/3 frames done")
    cluster.start(job_id)
    output.wait_for("submitted, 0/3")
    for done in (1, 2, 3):
        cluster.render_one(job_id)
        output.wait_for(f", {done}/3 frames done")
    for number in (1, 2, 3):
        cluster.upload(job_id, number)
    cluster.transition(job_id, "done")
    assert process.wait(timeout=30) == exit_codes.OK, process.stderr.read()
    text = output.join()
    assert "\r" not in text and "\x1b" not in text
    matches = [LINE.match(line) for line in text.splitlines()]
    assert all(matches), text
    seen = [(m[2], int(m[3])) for m in matches]
    # A poll may also catch a passing moment (staging; running with the frame not done).
    assert all(a != b for a, b in zip(seen, seen[1:])), "one line per change"
    remaining = iter(seen)
    assert all(step in remaining for step in [
        ("pending", 0), ("submitted", 0), ("running", 1), ("running", 2), ("collecting", 3),
        ("done", 3)]), seen
    assert all(m[6] for m in matches if m[2] == "running" and m[3] == "2"), "an ETA"


def test_wait_on_a_terminal_redraws_a_bar_in_place(cli, submit, cluster):
    job_id = submit("--frames", "1-4")
    master, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = cli.start("wait", job_id, stdout=terminal)
    os.close(terminal)

    def read_terminal():
        try:
            return os.read(master, 4096)
        except OSError:  # EIO: the process closed the terminal
            return b""
    output = OutputReader(read_terminal)
    try:
        output.wait_for("0/4 frames, pending")
        cluster.start(job_id)
        for done in (1, 2, 3, 4):
            cluster.render_one(job_id)
            output.wait_for(f"{done}/4 frames")
        for number in (1, 2, 3, 4):
            cluster.upload(job_id, number)
        cluster.transition(job_id, "done")
        assert process.wait(timeout=30) == exit_codes.OK, process.stderr.read()
        text = output.join()
    finally:
        os.close(master)
    redraws = re.split(r"\r(?!\n)", text)[1:]  # the terminal itself turns "\n" into "\r\n"
    assert len(redraws) >= 6
    assert all(r.startswith(f"job {job_id} ") for r in redraws), redraws
    assert "\n" not in "".join(redraws[:-1]), "the bar stays on one line"
    assert re.match(rf"job {job_id} \[#{{20}}-{{20}}\] 2/4 frames, running, elapsed \d:\d\d, "
                    rf"ETA \d:\d\d", next(r for r in redraws if "2/4 frames" in r))
    assert re.match(rf"job {job_id} \[#{{40}}\] 4/4 frames, done, elapsed \d:\d\d *\r\n$",
                    redraws[-1])
    assert max(len(r.rstrip("\r\n")) for r in redraws) < 100


def test_wait_exits_3_with_the_reason_when_the_job_failed(cli, submit, cluster):
    job_id = submit("--frames", "1-2")
    cluster.start(job_id)
    for _ in range(2):  # max_attempts is 2
        cluster.fail_one(job_id, "Parse Error: undeclared identifier 'Gold'", "line 3")
    result = cli.run("wait", job_id)
    assert result.returncode == exit_codes.JOB_FAILED
    assert re.search(rf"raycrafter: job {job_id} failed: frame 1 failed 2 times \(last: Parse "
                     rf"Error: undeclared identifier 'Gold'\)", result.stderr)
    last = LINE.match(result.stdout.splitlines()[-1])
    assert (last[2], last[5]) == ("failed", "1")


def test_submit_wait_exits_4_when_the_job_is_cancelled(cli, tmp_path):
    scene = tmp_path / "a.pov"
    scene.write_text("sphere { 0, 1 }\n")
    process = cli.start("submit", scene, "--wait")
    output = pipe_reader(process)
    output.wait_for(": pending, 0/1 frames done")
    job_id = int(output.text.splitlines()[0])
    assert cli.run("cancel", job_id).returncode == 0
    assert process.wait(timeout=30) == exit_codes.JOB_CANCELLED
    assert f"job {job_id}: cancelled" in output.join()
    assert f"raycrafter: job {job_id} was cancelled" in process.stderr.read().decode()


def test_submit_download_waits_and_fetches_the_frames_json_on_stdout(cli, cluster, tmp_path):
    scene = tmp_path / "a.pov"
    scene.write_text("sphere { 0, 1 }\n")
    target = tmp_path / "frames"
    process = cli.start("submit", scene, "--frames", "1-3", "--download", target, "--json")
    errors = OutputReader(lambda: process.stderr.read1(4096))
    errors.wait_for(": pending, 0/3 frames done")
    job_id = int(LINE.match(errors.text.splitlines()[0])[1])
    cluster.finish(job_id)
    assert process.wait(timeout=30) == exit_codes.OK, errors.join()
    result = json.loads(process.stdout.read())
    assert result["id"] == job_id and result["state"] == "done"
    assert result["download"]["count"] == 3
    assert sorted(os.listdir(target)) == ["frame_00001.png", "frame_00002.png", "frame_00003.png"]
    assert (target / "frame_00002.png").read_bytes() == png(2)


def test_ctrl_c_stops_waiting_but_not_the_job(cli, submit):
    job_id = submit()
    process = cli.start("wait", job_id)
    output = pipe_reader(process)
    output.wait_for("pending, 0/1")
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == exit_codes.INTERRUPTED
    assert f"stopped waiting; job {job_id} goes on" in process.stderr.read().decode()
    assert json.loads(cli.run("status", job_id, "--json").stdout)["state"] == "pending"


def test_wait_keeps_polling_through_an_outage(cli, submit, cluster, api_server, tmp_path):
    proxy = TlsProxy(api_server.port, tmp_path)
    job_id = submit()
    process = cli.start("wait", job_id, RAYCRAFTER_URL=proxy.base, RAYCRAFTER_CA=proxy.ca_file)
    output = pipe_reader(process)
    try:
        output.wait_for("pending, 0/1")
        proxy.pause()
        output.wait_for("Connection refused; retrying for up to 5 minutes")
        proxy.resume()
        cluster.finish(job_id)
        assert process.wait(timeout=30) == exit_codes.OK, process.stderr.read()
    finally:
        proxy.close()
    assert output.join().splitlines()[-1].startswith(f"job {job_id}: done, 1/1 frames done")


def test_a_wait_started_while_the_api_restarts_behind_nginx_rides_it_out(cli, tmp_path):
    """The API stopped behind the appliance's nginx (which answers 503 with Retry-After)
    when the wait asks first: it waits for the API, then for the job. A wrong address or
    token fails at once all the same."""
    config = write_config(tmp_path / "api.toml", database_url=f"sqlite:///{tmp_path}/api.db",
                          data_dir=str(tmp_path / "data"))
    with ApiServer(config) as api, NginxFront() as front:
        url = front.serve(api.port).removesuffix("/api/v1")
        user = {"RAYCRAFTER_URL": url, "RAYCRAFTER_CA": front.certificate,
                "RAYCRAFTER_TOKEN": create_user(config, "alice")}
        scene = cli.cwd / "restart.pov"
        scene.write_text("sphere { <0, 1, 2>, 2 pigment { color rgb 1 } }\n")
        submitted = cli.run("submit", scene, **user)
        assert submitted.returncode == 0, submitted.stderr
        job_id = int(submitted.stdout)
        api.stop()
        process = cli.start("wait", job_id, **user)
        output = pipe_reader(process)
        output.wait_for("the API is not answering; retry shortly; retrying for up to 5 minutes")
        assert process.poll() is None
        api.start()
        FakeCluster(api.url, ensure_worker_token(config)).finish(job_id)
        assert process.wait(timeout=60) == exit_codes.OK, process.stderr.read()
        assert output.join().splitlines()[-1].startswith(f"job {job_id}: done, 1/1 frames done")

        wrong_token = cli.run("wait", job_id, timeout=20, **dict(user, RAYCRAFTER_TOKEN="x" * 43))
        assert wrong_token.returncode == exit_codes.AUTH_FAILED, wrong_token.stderr
    # The discard port: nothing listens there.
    nobody = cli.run("wait", job_id, timeout=20, **dict(user, RAYCRAFTER_URL="http://127.0.0.1:9",
                                                        RAYCRAFTER_CA=None))
    assert nobody.returncode == exit_codes.API_UNAVAILABLE
    assert "Connection refused" in nobody.stderr and "retrying" not in nobody.stderr
