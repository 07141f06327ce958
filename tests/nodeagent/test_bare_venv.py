"""Compute nodes offer a bare Python: the agent must install and import with the standard
library and graypy alone. Checked in a fresh venv holding nothing but the agent's wheel and
graypy, by looking at which modules importing every agent module actually loaded."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

NODEAGENT = Path(__file__).resolve().parents[2] / "nodeagent"

IMPORT_EVERYTHING = r"""
import importlib, json, pkgutil, sys
before = set(sys.modules)
import raycrafter_nodeagent
for module in pkgutil.walk_packages(raycrafter_nodeagent.__path__, "raycrafter_nodeagent."):
    importlib.import_module(module.name)
loaded = sorted({name.split(".")[0] for name in set(sys.modules) - before})
foreign = [name for name in loaded if name not in sys.stdlib_module_names
           and name not in ("raycrafter_nodeagent", "graypy")]
print(json.dumps({"loaded": loaded, "foreign": foreign,
                  "modules": sorted(n for n in sys.modules if n.startswith("raycrafter_nodeagent"))}))
"""


def run(*argv, **kwargs):
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, "%s\n%s\n%s" % (argv, result.stdout, result.stderr)
    return result.stdout


def test_agent_imports_only_the_standard_library_and_graypy(tmp_path):
    source = tmp_path / "nodeagent"  # a copy, so the build leaves nothing in the work tree
    shutil.copytree(NODEAGENT, source, ignore=shutil.ignore_patterns("*.egg-info", "build"))
    wheels = tmp_path / "wheels"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
        "-w", wheels, source)
    (wheel,) = wheels.glob("raycrafter_nodeagent-*.whl")
    venv = tmp_path / "venv"
    run("/usr/bin/python3", "-m", "venv", venv)
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", "--no-cache-dir", wheel)

    installed = json.loads(run(python, "-m", "pip", "list", "--format=json",
                               "--exclude", "pip", "--exclude", "setuptools"))
    assert sorted(p["name"].lower() for p in installed) == ["graypy", "raycrafter-nodeagent"]

    report = json.loads(run(python, "-I", "-c", IMPORT_EVERYTHING, cwd=tmp_path))
    assert report["foreign"] == []
    assert "graypy" in report["loaded"]
    for module in ("agent", "api_client", "config", "gelf_shipping", "lease_keeper",
                   "renderers.povray", "renderers.command", "signals", "__main__"):
        assert "raycrafter_nodeagent." + module in report["modules"]

    usage = run(venv / "bin" / "raycrafter-nodeagent", "--help")
    assert "--job-id" in usage
    assert "--job-id" in run(python, "-m", "raycrafter_nodeagent", "--help", cwd=tmp_path)
