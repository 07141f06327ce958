"""Compute nodes offer a bare Python: the agent must install and import with the standard
library, graypy and the contract (the standard library, and graypy for its GELF shipping)
alone. Checked in a fresh venv holding nothing but those wheels, by looking at which
modules importing every agent module actually loaded."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]

IMPORT_EVERYTHING = r"""
import importlib, json, pkgutil, sys
before = set(sys.modules)
import raycrafter_nodeagent
for module in pkgutil.walk_packages(raycrafter_nodeagent.__path__, "raycrafter_nodeagent."):
    importlib.import_module(module.name)
loaded = sorted({name.split(".")[0] for name in set(sys.modules) - before})
foreign = [name for name in loaded if name not in sys.stdlib_module_names
           and name not in ("raycrafter_nodeagent", "raycrafter_contract", "graypy")]
print(json.dumps({"loaded": loaded, "foreign": foreign,
                  "modules": sorted(n for n in sys.modules if n.startswith("raycrafter_nodeagent")),
                  "contract_modules": sorted(n for n in sys.modules
                                             if n.startswith("raycrafter_contract"))}))
"""


def run(*argv, **kwargs):
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, "%s\n%s\n%s" % (argv, result.stdout, result.stderr)
    return result.stdout


def test_agent_imports_only_the_standard_library_graypy_and_the_contract(tmp_path):
    wheels = tmp_path / "wheels"
    for distribution in ("contract", "nodeagent"):
        source = tmp_path / distribution  # a copy: the build leaves nothing in the work tree
        shutil.copytree(REPOSITORY / distribution, source,
                        ignore=shutil.ignore_patterns("*.egg-info", "build"))
        run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
            "-w", wheels, source)
    venv = tmp_path / "venv"
    run("/usr/bin/python3", "-m", "venv", venv)
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", "--no-cache-dir", *wheels.glob("*.whl"))

    installed = json.loads(run(python, "-m", "pip", "list", "--format=json",
                               "--exclude", "pip", "--exclude", "setuptools"))
    assert sorted(p["name"].lower() for p in installed) == [
        "graypy", "raycrafter-contract", "raycrafter-nodeagent"]

    report = json.loads(run(python, "-I", "-c", IMPORT_EVERYTHING, cwd=tmp_path))
    assert report["foreign"] == []
    assert "graypy" in report["loaded"]
    assert "raycrafter_contract.gelf_shipping" in report["contract_modules"]
    for module in ("agent", "api_client", "config", "logging_setup", "lease_keeper",
                   "renderers.povray", "renderers.command", "signals", "__main__"):
        assert "raycrafter_nodeagent." + module in report["modules"]

    usage = run(venv / "bin" / "raycrafter-nodeagent", "--help")
    assert "--job-id" in usage
    assert "--job-id" in run(python, "-m", "raycrafter_nodeagent", "--help", cwd=tmp_path)
