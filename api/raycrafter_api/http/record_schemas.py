"""JSON Schemas of the contract's wire records, for the OpenAPI document.

The API answers with these records and the clients read them with them, so the document
describes each answer and report by its record: a field's JSON type, whether it is
required (it has no default, or it is the record's constant tag such as ``status``) and
nothing else in an answer. What a type cannot say (a minimum, a pattern, a description)
is added per field; naming a field the record does not have is an error, so the two cannot
drift apart.
"""
import dataclasses
import typing

from raycrafter_contract.wire.records import is_record, record_fields

_SCALARS = {int: "integer", float: "number", str: "string", bool: "boolean"}


class RecordSchemas:
    """Answer records become components (``ref``); report records become request bodies
    (``body``). ``refinements``: {record class: {field: extra schema keywords}}; a
    record's refinements hold for the records that extend it too."""

    def __init__(self, refinements):
        self._refinements = refinements
        self._components = {}

    def ref(self, cls):
        """A reference to ``cls``'s component, added to the document's components."""
        name = cls.__name__
        if name not in self._components:
            self._components[name] = None  # a record that holds itself ends here
            self._components[name] = dict(self._object(cls), additionalProperties=False)
        return {"$ref": f"#/components/schemas/{name}"}

    def body(self, cls):
        """The schema of a report ``cls`` sent as a request body. A newer client may add
        fields an older API ignores, so more are allowed."""
        return self._object(cls)

    def components(self):
        return dict(self._components)

    def _object(self, cls):
        refinements = {}
        for base in reversed(cls.__mro__):
            refinements.update(self._refinements.get(base, {}))
        properties, required = {}, []
        for field in record_fields(cls):
            schema = self._of(field.kind, nullable=not field.omit_none)
            properties[field.name] = {**schema, **refinements.pop(field.name, {})}
            if _is_required(field):
                required.append(field.name)
        if refinements:
            raise ValueError(f"{cls.__name__} has no field {', '.join(sorted(refinements))}")
        schema = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        if cls.__doc__ and not cls.__doc__.startswith(cls.__name__ + "("):  # not dataclass's
            schema["description"] = " ".join(cls.__doc__.split())
        return schema

    def _of(self, kind, nullable=True):
        if kind is typing.Any:
            return {}
        if is_record(kind):
            return self.ref(kind)
        origin, args = typing.get_origin(kind), typing.get_args(kind)
        if origin is typing.Union:
            inner = self._of(next(arg for arg in args if arg is not type(None)))
            if not nullable:
                return inner
            if "type" in inner and not isinstance(inner["type"], list):
                return {**inner, "type": [inner["type"], "null"]}
            return {"anyOf": [inner, {"type": "null"}]}
        if origin is typing.Literal:
            return {"const": args[0]} if len(args) == 1 else {"enum": list(args)}
        if origin is tuple:
            return {"type": "array", "items": self._of(args[0])}
        if origin is dict:
            values = self._of(args[1])
            return {"type": "object", **({"additionalProperties": values} if values else {})}
        return {"type": _SCALARS[kind]}


def _is_required(field):
    """A field without a default, or a record's constant tag (``status``), which every
    document carries."""
    return field.default is dataclasses.MISSING or (
        typing.get_origin(field.kind) is typing.Literal and len(typing.get_args(field.kind)) == 1)
