"""`qstat -f -F json` as OpenPBS 23.06 prints it (src/lib/Libcmds/pbs_json.c of that
release, replaced by cJSON later in 2023).

Four spaces per level, `"key":value` without a space, a resource attribute (`Resource_List`,
`resources_used`) as one object of its resources, Variable_List as an object of its
variables. A value is printed bare when the text looks like a number to PBS
(is_valid_json_number(): `0`, `-29`, `12.5`, but not `00:05:00` nor `007`), otherwise as a
string escaped PBS's way: a backslash before `'` or `,` is dropped, any other backslash is
kept with the character after it, as PBS does.
"""
import re

_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
_CONTROL = {"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def document(timestamp, version, server, jobs):
    """`jobs` is a list of (job id, [(attribute, value), ...]) as the text form has them;
    without jobs there is no "Jobs" key, as when qstat found none or could not connect."""
    lines = [f'"timestamp":{timestamp}', f'"pbs_version":"{_escape(version)}"',
             f'"pbs_server":"{_escape(server)}"']
    if jobs:
        lines.append('"Jobs":' + _object(
            [(f'"{job_id}"', _object(_job_members(attributes), 2)) for job_id, attributes in jobs],
            1))
    return "{\n" + ",\n".join(_indent(1) + line for line in lines) + "\n}\n"


def _job_members(attributes):
    members, groups = [], {}
    for name, value in attributes:
        parent, dot, resource = name.partition(".")
        if name == "Variable_List":
            # A variable without a value has no JSON type in pbs_json.c and is left out.
            members.append((name, [tuple(item.split("=", 1)) for item in _split_list(value)
                                   if "=" in item]))
        elif dot:
            if parent not in groups:
                groups[parent] = []
                members.append((parent, groups[parent]))
            groups[parent].append((resource, value))
        else:
            members.append((name, value))
    return [(f'"{name}"', _object([(f'"{key}"', _value(item)) for key, item in value], 3)
             if isinstance(value, list) else _value(value)) for name, value in members]


def _split_list(value):
    """Variables are separated by commas; PBS escapes a comma inside a value with `\\`."""
    return [item.replace("\\,", ",") for item in re.split(r"(?<!\\),", value) if item]


def _object(members, depth):
    if not members:
        return "{\n" + _indent(depth) + "}"
    inner = ",\n".join(f"{_indent(depth + 1)}{key}:{value}" for key, value in members)
    return "{\n" + inner + "\n" + _indent(depth) + "}"


def _indent(depth):
    return " " * (4 * depth)


def _value(text):
    return text if is_number(text) else f'"{_escape(text)}"'


def is_number(text):
    """pbs_json.c is_valid_json_number(): strtod() reads it whole, it does not end in a
    dot, and it has no leading zero unless it is 0, -0 or 0.xxx."""
    if not _NUMBER.match(text) or text.endswith("."):
        return False
    value = float(text)
    if abs(value) < 1:
        return (text in ("0", "-0") or len(text) > 2 and text[0] != "-" and text[1] == "."
                or len(text) > 3 and text[0] == "-" and text[2] == ".")
    return text[0] != "0" if value > 0 else text[1] != "0"


def _escape(text):
    escaped, index = [], 0
    while index < len(text):
        character = text[index]
        if character in _CONTROL:
            escaped.append(_CONTROL[character])
        elif character == '"':
            escaped.append('"' if index and text[index - 1] == "\\" else '\\"')
        elif character == "\\" and index + 1 < len(text):
            following = text[index + 1]
            escaped.append(following if following in "'," else character + following)
            index += 1
        else:
            escaped.append(character)
        index += 1
    return "".join(escaped)
