#!/usr/bin/env python3
"""Write pillar/pillar.example from the components' defaults.yaml files.

Every key a site may set is defined once, with its comment, in salt/COMPONENT/defaults.yaml;
the example is those files under `raycrafter:COMPONENT`, the settings every component
reads first, then the components by name. Run after changing a default; tests/salt/test_render.py fails while the example is
out of date.

    python3 pillar/make_example.py            # rewrite pillar/pillar.example
    python3 pillar/make_example.py --check    # exit 1 if it is out of date
"""
import pathlib
import sys

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent
EXAMPLE = REPOSITORY / "pillar" / "pillar.example"
# The settings every component reads come first.
SHARED = "common"
HEADER = """\
# Every pillar key a site may set, with its default. Copy what you change into
# /etc/raycrafter/pillar/site.sls (on the salt master, or on the host for ./appliance).
# Secrets are not set here: pillar/generate_secrets.py writes them to secrets.sls.
# Written by pillar/make_example.py from salt/*/defaults.yaml: edit those, not this file.
raycrafter:
"""


def components():
    found = {path.parent.name for path in (REPOSITORY / "salt").glob("*/defaults.yaml")}
    return sorted(found, key=lambda name: (name != SHARED, name))


def example():
    parts = [HEADER]
    for name in components():
        text = (REPOSITORY / "salt" / name / "defaults.yaml").read_text()
        body = "".join(f"    {line}" if line.strip() else line
                       for line in text.splitlines(keepends=True))
        parts.append(f"  {name}:\n{body}")
    return "".join(parts)


def main(argv):
    wanted = example()
    if "--check" in argv:
        if EXAMPLE.read_text() != wanted:
            print("pillar/pillar.example is out of date: run pillar/make_example.py",
                  file=sys.stderr)
            return 1
        return 0
    EXAMPLE.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
