"""Reading ``qstat -f``: the text every PBS Professional, OpenPBS and Torque server prints
(and Slurm's qstat wrapper imitates), and the JSON of PBS Professional 18 and later
(``-F json``). Both give ``[(job id, {attribute: value})]`` with the text form's names:
the JSON's nested ``resources_used``, ``Resource_List`` and ``Variable_List`` become
``resources_used.walltime`` and so on.

What real servers print, and the parsers must survive (tests/worker/captures/real):
- a job starts at ``Job Id: ID`` (NASA's site qstat prints ``Job: ID``), with or without
  ``.SERVER``; attributes are indented with four spaces (the Slurm wrapper: a TAB);
- a long value goes on over continuation lines that split it anywhere, in a word or a
  number, indented with a TAB (copies of real output also show eight or four spaces):
  the value is the lines joined with only that indentation removed;
- ``-F json`` is not always valid JSON (unquoted numbers and bad escapes from job
  environments, repeated "Jobs" keys before 2018), so the text form stays the fallback.
"""
import json
import re

from .base import UnreadableListing

_HEADER = re.compile(r"^Job(?: Id)?:\s*(\S+)\s*$")
_ATTRIBUTE = re.compile(r"^(?:\t| {4})([A-Za-z_][A-Za-z0-9_.]*) = ?(.*)$")


def parse_text(text):
    """[(job id, {attribute: value})] from ``qstat -f`` text, in the order printed."""
    jobs, attributes, last = [], None, None
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            attributes, last = {}, None
            jobs.append((header.group(1), attributes))
        elif attributes is None or not line.strip() or not line[0].isspace():
            continue
        elif (attribute := _ATTRIBUTE.match(line)) is not None:
            last = attribute.group(1)
            attributes[last] = attribute.group(2)
        elif last is not None:
            attributes[last] += _continued(line)
    return [(job_id, {key: value.rstrip() for key, value in attributes.items()})
            for job_id, attributes in jobs]


def _continued(line):
    """A continuation line without its indentation: a space after it is part of the value
    (``on resource\\n\\t ncpus`` is ``on resource ncpus``)."""
    for indentation in ("\t", " " * 8, " " * 4):
        if line.startswith(indentation):
            return line[len(indentation):]
    return line.lstrip()


def parse_json(text):
    """[(job id, {attribute: value})] from ``qstat -f -F json``; UnreadableListing when
    it is not JSON. A document without "Jobs" (what qstat prints when it knows none of
    the jobs asked for, or could not reach the server) holds no job."""
    try:
        document = json.loads(text, object_pairs_hook=_merging_repeated_keys)
    except ValueError as error:
        raise UnreadableListing(f"qstat printed invalid JSON: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("Jobs", {}), dict):
        raise UnreadableListing("qstat printed JSON without a Jobs object")
    return [(job_id, _flattened(attributes))
            for job_id, attributes in document.get("Jobs", {}).items()
            if isinstance(attributes, dict)]


def _merging_repeated_keys(pairs):
    # PBS Professional before 2018 (openpbs PR #585) repeated "Jobs" for each job asked.
    merged = {}
    for key, value in pairs:
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key].update(value)
        else:
            merged[key] = value
    return merged


def _flattened(attributes, prefix=""):
    flat = {}
    for key, value in attributes.items():
        if isinstance(value, dict):
            flat.update(_flattened(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = str(value)
    return flat
