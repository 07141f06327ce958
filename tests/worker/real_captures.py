"""Reading the scheduler output other projects recorded on real systems
(captures/real/README.md says where each file comes from and what its project expects)."""
import json
import pathlib
import re

from raycrafter_worker.transport import Result

REAL = pathlib.Path(__file__).parent / "captures" / "real"
ELSEWHERE = pathlib.Path(__file__).parent / "captures" / "elsewhere"
_FIELD = re.compile(r'(rc|stderr|stdout): ("(?:[^"\\]|\\.)*"|\S+)')


def text(name):
    return (REAL / name).read_text()


def envelope(name):
    """A peer's JSON fixture {"stdout", "stderr", "exit_code"} as a Result."""
    recorded = json.loads((REAL / name).read_text())
    return Result(recorded["exit_code"], recorded["stdout"], recorded["stderr"])


def triple(name):
    """NAME.rc, NAME.stdout and NAME.stderr as a Result."""
    return Result(int((REAL / f"{name}.rc").read_text()), (REAL / f"{name}.stdout").read_text(),
                  (REAL / f"{name}.stderr").read_text())


def message_records(path):
    """(line, rc or None, stdout, stderr) of every ``cmd:`` line of a messages file."""
    records = []
    for line in path.read_text().splitlines():
        if not line.startswith("cmd:"):
            continue
        fields = dict(_FIELD.findall(line))
        words = {key: _unquoted(fields[key]) if key in fields else ""
                 for key in ("stdout", "stderr")}
        rc = fields.get("rc")
        records.append((line, int(rc) if rc and rc.lstrip("-").isdigit() else None,
                        words["stdout"], words["stderr"]))
    return records


def _unquoted(value):
    if not value.startswith('"'):
        return value
    return value[1:-1].replace("\\n", "\n").replace('\\"', '"')
