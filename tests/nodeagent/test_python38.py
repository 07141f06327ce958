"""The agent runs on whatever Python the cluster offers, down to 3.8: its code and the
contract installed beside it must not use anything newer, checked statically because no 3.8
interpreter is installed here."""

import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
PACKAGES = (REPOSITORY / "nodeagent" / "raycrafter_nodeagent",
            REPOSITORY / "contract" / "raycrafter_contract")


def vermin(*paths):
    return subprocess.run(
        [sys.executable, "-c", "import sys; from vermin import main; sys.exit(main())", "--target=3.8-", "--violations", "--eval-annotations",
         "--no-tips", "--no-parse-comments", *map(str, paths)],
        capture_output=True, text=True)


def test_agent_code_needs_nothing_newer_than_python_3_8():
    result = vermin(*PACKAGES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Minimum required versions: 3." in result.stdout


def test_the_check_does_catch_newer_syntax_and_library_calls(tmp_path):
    newer = tmp_path / "newer.py"
    newer.write_text(
        "def f(x: int | None) -> list[str]:\n"
        "    return [str(x).removeprefix('0')]\n")
    result = vermin(newer)
    assert result.returncode != 0
    assert "removeprefix" in result.stdout
