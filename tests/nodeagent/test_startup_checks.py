"""A misconfigured node must fail at once with a message that says what to fix, before it
claims a frame and burns one of its attempts."""

import os
import subprocess
import sys

import pytest


def start(tmp_path, *args, token_mode=0o600):
    job_dir = tmp_path / "raycrafter" / "7"
    (job_dir / "input").mkdir(parents=True, exist_ok=True)
    token = job_dir / "agent.token"
    token.write_text("a-token-that-is-never-used\n")
    token.chmod(token_mode)
    return subprocess.run(
        [sys.executable, "-m", "raycrafter_nodeagent", "--job-id", "7",
         "--job-dir", str(job_dir), *args],
        capture_output=True, text=True, timeout=30,
        env={k: v for k, v in os.environ.items() if not k.startswith("RAYCRAFTER_")})


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_a_token_file_others_can_read_is_refused(tmp_path, mode):
    result = start(tmp_path, "--api-url", "https://api.example.org", token_mode=mode)
    assert result.returncode == 2
    assert "has mode %04o: it must be readable by its owner only (chmod 600" % mode in result.stderr


def test_a_log_credential_file_others_can_read_is_refused(tmp_path):
    credential = tmp_path / "raycrafter" / "7" / "log.credential"
    credential.parent.mkdir(parents=True)
    credential.write_text("rclog1.7.1.1800000000.signature\n")
    credential.chmod(0o644)
    result = start(tmp_path, "--api-url", "https://api.example.org",
                   "--log-host", "logs.example.org")
    assert result.returncode == 2
    assert ("log credential file %s has mode 0644: it must be readable by its owner only"
            % credential) in result.stderr


def test_a_missing_ca_file_is_named(tmp_path):
    result = start(tmp_path, "--api-url", "https://api.example.org",
                   "--ca-file", str(tmp_path / "missing-ca.pem"))
    assert result.returncode == 2
    assert "--ca-file %s does not exist" % (tmp_path / "missing-ca.pem") in result.stderr


def test_plain_http_is_refused_except_to_loopback(tmp_path):
    result = start(tmp_path, "--api-url", "http://api.example.org")
    assert result.returncode == 2
    assert "must be an https:// URL" in result.stderr


def test_a_command_renderer_template_with_an_unknown_placeholder_is_refused(tmp_path):
    result = start(tmp_path, "--api-url", "https://api.example.org",
                   "--renderer-command", 'blender=["blender", "-b", "{scene.__class__}"]')
    assert result.returncode == 2
    assert "unknown placeholder" in result.stderr


@pytest.mark.parametrize("option, value, message", [
    ("--max-file-bytes", "1000", "--max-file-bytes must be at least 65536"),
    ("--max-work-dir-bytes", "64K", "--max-work-dir-bytes must be at least 131072"),
    ("--max-memory-bytes", "2 GB", "'2 GB' is not a size"),
    ("--max-cpu-seconds", "0", "--max-cpu-seconds must be at least 1"),
    ("--output-bytes", "1K", "--output-bytes must be at least 2048"),
])
def test_an_unusable_renderer_limit_is_named(tmp_path, option, value, message):
    result = start(tmp_path, "--api-url", "https://api.example.org", option, value)
    assert result.returncode == 2
    assert message in result.stderr
