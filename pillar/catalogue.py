"""The deployment catalogue (catalogue.yaml beside this file) for shell scripts.

    catalogue.py roles                 every role, one per line, in the catalogue's order
    catalogue.py checks [ROLE ...]     each check of every host, then of these roles (all
                                       by default), one per line:
                                       ROLE<TAB>NAME<TAB>COMMAND<TAB>LOG, with each
                                       {SERVICE} in COMMAND the port of that service (ROLE
                                       is "host" for every host's own)
    catalogue.py packages [ROLE ...]   the Debian packages every host and these roles (all
                                       by default) install, one line, space-separated

Salt, Terraform, Vagrant and the tests read the YAML themselves.
"""
import os
import sys

import yaml

CATALOGUE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "catalogue.yaml")


def main(argv):
    with open(CATALOGUE) as handle:
        catalogue = yaml.safe_load(handle)
    roles = catalogue["roles"]
    if argv[1:2] == ["roles"]:
        print("\n".join(roles))
        return 0
    if argv[1:2] not in (["checks"], ["packages"]):
        sys.stderr.write(__doc__)
        return 2
    wanted = argv[2:] or list(roles)
    unknown = [role for role in wanted if role not in roles]
    if unknown:
        sys.stderr.write(f"catalogue: no role {', '.join(unknown)}; roles: {', '.join(roles)}\n")
        return 2
    if argv[1] == "packages":
        holders = [catalogue["every_host"]] + [roles[role] for role in wanted]
        print(" ".join(dict.fromkeys(package for holder in holders
                                     for package in holder.get("packages") or [])))
        return 0
    for label, holder in [("host", catalogue["every_host"])] + [(role, roles[role]) for role in wanted]:
        ports = {service: spec.get("port", (spec.get("ports") or [None])[0])
                 for service, spec in (holder.get("services") or {}).items()}
        for name, check in (holder.get("checks") or {}).items():
            command = check["command"].format_map(ports)
            print("\t".join((label, name, command, check.get("log", ""))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
