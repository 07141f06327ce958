"""The resources and data sources of a Terraform directory, as JSON on stdout: each one's
kind, type, name and the argument and block names it sets (blocks nested). Run by the
tools' Python, which has python-hcl2. Usage: hcl_blocks.py DIRECTORY
"""
import json
import pathlib
import sys

import hcl2


def unquoted(name):
    # python-hcl2 keeps the quotes of quoted labels ("\"openstack_x\"").
    return name.strip('"')


def body(block):
    arguments, blocks = [], {}
    for key, value in block.items():
        if key.startswith("__"):
            continue
        if isinstance(value, list) and value and all(isinstance(v, dict) and v.get("__is_block__") for v in value):
            blocks[key] = [body(v) for v in value]
        else:
            arguments.append(key)
    return {"arguments": sorted(arguments), "blocks": blocks}


def main(directory):
    found = []
    for path in sorted(pathlib.Path(directory).glob("*.tf")):
        document = hcl2.loads(path.read_text())
        for kind in ("resource", "data"):
            for entry in document.get(kind, []):
                for kind_type, named in entry.items():
                    for name, block in named.items():
                        found.append({"kind": kind, "type": unquoted(kind_type), "name": unquoted(name),
                                      "file": path.name, **body(block)})
    json.dump(found, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
