"""What real PBS Professional and Torque servers printed (tests/worker/captures/real, each
with its source in the README there), read here on their own terms: none of the
appliance's parsers is used, so the fronts are held to the captures and not to code
that could share their mistakes.

A listing is read into jobs of (name, lines) attributes, the lines exactly as printed,
so that both the joined values and the way each value was wrapped can be compared.
"""
import dataclasses
import json
import pathlib
import re

REAL = pathlib.Path(__file__).resolve().parents[1] / "worker" / "captures" / "real"
ELSEWHERE = REAL.parent / "elsewhere"
ATTRIBUTE = re.compile(r"^    ([A-Za-z_][\w.]*) = (.*)$")
# A job id as every capture prints it: the number, and the server's name when the server
# adds it (ICHEC's Torque did not).
JOB_ID = re.compile(r"^(\d+)\.([A-Za-z0-9][\w.-]*)$")

# The captures of each system's `qstat -f`, with the indentation of their continuation
# lines (one Gadi copy lost its TABs to a terminal: eight spaces).
PBSPRO_TEXT = {"pbspro-pbs4py-nas-athena-qstat-x-f-10jobs.txt": "\t",
               "pbspro-aiida-6jobs.qstat-f.txt": "\t",
               "pbspro-pysqa-nci-gadi-3jobs.qstat-f.txt": " " * 8}
PBSPRO_JSON = ("openpbs-firecrest-qstat-F-json-f-x-allusers-2finished-1running.json",
               "openpbs-firecrest-qstat-F-json-f-x-one-running.json")
TORQUE_TEXT = {"torque-batcheuphoria-dkfz-4jobs.qstat-f.txt": "\t",
               "torque-aiida-ichec-10jobs.qstat-f.txt": "\t"}
# Captures whose wrapping is the servers' own, byte for byte (the others were edited by
# hand or by a search-and-replace, see the README), and each system's line limit as the
# captures show it.
WRAPPING = {"pbspro-pbs4py-nas-athena-qstat-x-f-10jobs.txt": 78,
            "torque-batcheuphoria-dkfz-4jobs.qstat-f.txt": 77}


@dataclasses.dataclass
class ListedJob:
    job_id: str
    attributes: list  # [(name, [line, ...])], lines as printed, without their newline

    def names(self):
        return [name for name, _ in self.attributes]

    def value(self, name, continuation="\t"):
        for attribute, lines in self.attributes:
            if attribute == name:
                return ATTRIBUTE.match(lines[0]).group(2) + "".join(
                    line[len(continuation):] for line in lines[1:])
        return None

    def values(self, continuation="\t"):
        return {name: self.value(name, continuation) for name in self.names()}


def read_listing(text, continuation="\t"):
    jobs = []
    for line in text.split("\n"):
        if line.startswith("Job Id: "):
            jobs.append(ListedJob(line[len("Job Id: "):], []))
        elif ATTRIBUTE.match(line) and jobs:
            jobs[-1].attributes.append((ATTRIBUTE.match(line).group(1), [line]))
        elif line.startswith(continuation) and jobs and jobs[-1].attributes:
            jobs[-1].attributes[-1][1].append(line)
    return jobs


def captured_listings(files):
    """{file name: [ListedJob]} of real text listings."""
    return {name: read_listing((REAL / name).read_text(), continuation)
            for name, continuation in files.items()}


def json_jobs(document):
    """(job id, {name: value}) of a `qstat -F json` document, its nested objects written
    the way the text form names them (`Resource_List.ncpus`); Variable_List stays whole."""
    jobs = []
    for job_id, members in document.get("Jobs", {}).items():
        flat = {}
        for name, value in members.items():
            if isinstance(value, dict) and name != "Variable_List":
                flat.update({f"{name}.{key}": item for key, item in value.items()})
            else:
                flat[name] = value
        jobs.append((job_id, flat))
    return jobs


def captured_jobs(system):
    """[(attribute names in order, {name: value})] of every real job of the system
    ("pbspro": the text and the JSON captures; "torque": the text ones)."""
    files = PBSPRO_TEXT if system == "pbspro" else TORQUE_TEXT
    jobs = [(job.names(), job.values(files[name]))
            for name, listing in captured_listings(files).items() for job in listing]
    if system == "pbspro":
        jobs += [(list(flat), {name: str(value) for name, value in flat.items()})
                 for document, _ in captured_json() for _, flat in json_jobs(document)]
    return jobs


def captured_json():
    """[(document, stdout)] of the OpenPBS 23.06 JSON captures."""
    captured = []
    for name in PBSPRO_JSON:
        stdout = json.loads((REAL / name).read_text())["stdout"]
        captured.append((json.loads(stdout), stdout))
    return captured


def wrapped_as_pbs(name, value, limit):
    """The wrapping every capture in WRAPPING shows (test_listing_rules proves it on them):
    the value is cut at commas, a piece that does not fit starts a new TAB line and is
    broken after the character that passes the limit; the commas themselves are not
    counted, and empty pieces vanish."""
    out = [f"    {name} = "]
    column = len(out[0])
    pieces = [piece for piece in value.split(",") if piece]
    for number, piece in enumerate(pieces):
        fits = column + len(piece) < limit
        if not fits and number:
            out.append("\n\t")
            column = 9
        if fits:
            out.append(piece)
            column += len(piece)
        else:
            for character in piece:
                out.append(character)
                column += 1
                if column > limit:
                    out.append("\n\t")
                    column = 8
        out.append("," if number < len(pieces) - 1 else "")
    return "".join(out)


RECORD = re.compile(r'^cmd: (.*?)\s+(?:rc: (\d+)\s+)?(?:stdout: "(?:.*?)"\s+)?stderr: "(.*)"\s*$',
                    re.M)


def recorded_error(path, marker):
    """(stderr, exit status or None) of the first record in a messages file
    (captures/elsewhere/scheduler-error-messages.txt, captures/real/*-messages.txt) whose
    stderr holds `marker`; `\\n` in a record is a line break."""
    for match in RECORD.finditer(path.read_text()):
        if marker in match.group(3):
            stderr = match.group(3).replace("\\n", "\n")
            return stderr, int(match.group(2)) if match.group(2) else None
    raise LookupError(f"{marker!r} in {path.name}")
