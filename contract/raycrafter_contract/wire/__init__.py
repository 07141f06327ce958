"""What crosses the HTTP seams between the components, as typed records.

Every JSON body the API answers with, and every report a client sends it, has one record
here (a standard-library dataclass with ``from_json`` and ``to_json``): the API builds
its answers and its OpenAPI document from them, and the CLI, the worker and the node agent
read the answers through them, so a missing or mistyped field is one clear error
(``WireError``) in one place. ``retrying`` holds the one rule for which failed calls are
worth trying again.
"""
