"""The CLI as installed on a laptop: a console script, and nothing beyond the standard
library (no bottle, peewee or waitress, nor the API's own server modules)."""
import json
import os
import pathlib
import subprocess
import sys

import raycrafter_api.client

API_SOURCE = pathlib.Path(raycrafter_api.client.__file__).resolve().parents[2]


def test_the_console_script_is_installed(cli):
    script = os.path.join(os.path.dirname(sys.executable), "raycrafter")
    result = subprocess.run([script, "jobs", "--json"], env=cli.env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["jobs"] == []


def test_the_client_runs_on_the_standard_library_alone(cli, tmp_path):
    """``python -S`` leaves out site-packages: only the standard library and the source of
    raycrafter_api are importable, so any other import would fail here."""
    scene = tmp_path / "a.pov"
    scene.write_text("sphere { 0, 1 }\n")
    env = dict(cli.env, PYTHONPATH=str(API_SOURCE))

    def bare(*args):
        result = subprocess.run([sys.executable, "-S", "-m", "raycrafter_api.client", *args],
                                env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout
    job_id = int(bare("submit", str(scene), "--frames", "1-2"))
    assert json.loads(bare("status", str(job_id), "--json"))["frames"]["count"] == 2
    assert bare("--version").startswith("raycrafter ")
