"""The CLI as installed on a laptop: a console script, and nothing beyond the standard
library and the contract (no bottle, peewee or waitress, nor the API's own modules)."""
import importlib.metadata
import json
import os
import pathlib
import shutil
import subprocess
import sys

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]


def test_the_console_script_is_installed(cli):
    script = os.path.join(os.path.dirname(sys.executable), "raycrafter")
    result = subprocess.run([script, "jobs", "--json"], env=cli.env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["jobs"] == []


def test_the_client_runs_on_the_standard_library_alone(cli, tmp_path):
    """``python -S`` leaves out site-packages: only the standard library and the sources of
    the CLI and the contract are importable, so any other import would fail here."""
    scene = tmp_path / "a.pov"
    scene.write_text("sphere { 0, 1 }\n")
    env = dict(cli.env, PYTHONPATH=os.pathsep.join(
        str(REPOSITORY / distribution) for distribution in ("cli", "contract")))

    def bare(*args):
        result = subprocess.run([sys.executable, "-S", "-m", "raycrafter_cli", *args],
                                env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout
    job_id = int(bare("submit", str(scene), "--frames", "1-2"))
    assert json.loads(bare("status", str(job_id), "--json"))["frames"]["count"] == 2
    assert bare("--version").startswith("raycrafter ")


def test_one_pip_install_on_a_laptop_brings_the_cli_and_the_contract_only(tmp_path):
    venv = tmp_path / "laptop"
    subprocess.run(["/usr/bin/python3", "-m", "venv", venv], check=True)
    for distribution in ("contract", "cli"):  # copies: the build leaves the tree alone
        shutil.copytree(REPOSITORY / distribution, tmp_path / distribution,
                        ignore=shutil.ignore_patterns("*.egg-info", "build"))
    subprocess.run([venv / "bin" / "pip", "install", "-q", tmp_path / "contract",
                    tmp_path / "cli"], check=True, capture_output=True)
    listed = subprocess.run([venv / "bin" / "pip", "list", "--format=json", "--exclude", "pip",
                             "--exclude", "setuptools"], check=True, capture_output=True,
                            text=True).stdout
    assert sorted(p["name"] for p in json.loads(listed)) == ["raycrafter-cli",
                                                            "raycrafter-contract"]
    version = subprocess.run([venv / "bin" / "raycrafter", "--version"], check=True,
                             capture_output=True, text=True).stdout
    assert version.strip() == "raycrafter " + importlib.metadata.version("raycrafter-cli")
