"""Typed records and their JSON forms: the machinery every wire record shares.

A record is a frozen dataclass whose fields are annotated with the JSON types the protocol
allows: ``int``, ``float``, ``str``, ``bool``, ``Any``, another record, ``Optional[T]``
(null allowed), ``Tuple[T, ...]`` (an array), ``Dict[str, T]`` (an object) and
``Literal[...]`` (one of fixed values). ``from_json`` checks a decoded JSON document
against those annotations and builds the record, or raises WireError naming the field;
``to_json`` gives the document back. A field with a default may be missing from a
document (an older sender's); a field the record does not know is ignored (a newer
sender's). A field made with ``omitted_when_none()`` is left out of the document while it
is None: an optional field of a report, which the reader takes as absent.

The standard library only, down to Python 3.8: the node agent runs on old cluster Pythons.
"""
import dataclasses
import math
import typing

_OMIT_NONE = "omit_when_none"
_NOTHING = dataclasses.MISSING


class WireError(ValueError):
    """A JSON document does not have the shape its record requires; ``str()`` names the
    record, the field and what is wrong."""


def omitted_when_none():
    """A field that defaults to None and is left out of the JSON form while it is None."""
    return dataclasses.field(default=None, metadata={_OMIT_NONE: True})


class _Field(typing.NamedTuple):
    name: str
    kind: typing.Any
    default: typing.Any  # _NOTHING when the field is required
    omit_none: bool


class Record:
    """The base of every wire record (each a frozen dataclass)."""

    __slots__ = ()

    @classmethod
    def from_json(cls, document):
        """The record ``document`` (decoded JSON) describes, or WireError saying why not."""
        return _decode(cls, document, cls.__name__)

    def to_json(self):
        """The record as a JSON-ready document (dicts, lists, strings, numbers, None)."""
        return _encode(self)


_FIELDS = {}  # record class -> its _Field tuple, worked out once


def json_default(value):
    """For ``json.dumps(..., default=json_default)``: JSON-ready values that hold records
    (a page of jobs) are written with each record in its JSON form."""
    if isinstance(value, Record):
        return value.to_json()
    raise TypeError("%s is not JSON" % type(value).__name__)


def record_fields(cls):
    """The fields of record class ``cls``: (name, annotation, default, omit_none) each,
    ``default`` being ``dataclasses.MISSING`` for a required field."""
    fields = _FIELDS.get(cls)
    if fields is None:
        hints = typing.get_type_hints(cls)
        fields = []
        for field in dataclasses.fields(cls):
            if field.default is not _NOTHING:
                default = field.default
            elif field.default_factory is not _NOTHING:
                default = field.default_factory()
            else:
                default = _NOTHING
            fields.append(_Field(field.name, hints[field.name], default,
                                 bool(field.metadata.get(_OMIT_NONE))))
        fields = _FIELDS[cls] = tuple(fields)
    return fields


def is_record(kind):
    return isinstance(kind, type) and issubclass(kind, Record)


def _decode(kind, value, where):
    if kind is typing.Any:
        return value
    if is_record(kind):
        return _decode_record(kind, value, where)
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is typing.Union:  # Optional[T]
        if value is None:
            return None
        return _decode(next(arg for arg in args if arg is not type(None)), value, where)
    if origin is typing.Literal:
        if value not in args:
            raise WireError("%s must be %s, not %s" % (
                where, " or ".join(repr(arg) for arg in args), _shown(value)))
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise WireError("%s must be an array, not %s" % (where, _shown(value)))
        return tuple(_decode(args[0], item, "%s[%d]" % (where, index))
                     for index, item in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise WireError("%s must be an object, not %s" % (where, _shown(value)))
        return {key: _decode(args[1], item, "%s.%s" % (where, key))
                for key, item in value.items()}
    return _decode_scalar(kind, value, where)


def _decode_scalar(kind, value, where):
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind in (int, float) and isinstance(value, bool) or not isinstance(value, kind):
        raise WireError("%s must be %s, not %s" % (where, _TYPE_WORDS[kind], _shown(value)))
    if kind is float and not math.isfinite(value):
        raise WireError("%s must be a finite number, not %s" % (where, _shown(value)))
    return value


_TYPE_WORDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _decode_record(cls, document, where):
    if not isinstance(document, dict):
        raise WireError("%s must be an object, not %s" % (where, _shown(document)))
    values = {}
    for field in record_fields(cls):
        if field.name in document:
            values[field.name] = _decode(field.kind, document[field.name],
                                         "%s.%s" % (where, field.name))
        elif field.default is _NOTHING:
            raise WireError("%s.%s is missing" % (where, field.name))
    try:
        return cls(**values)
    except ValueError as error:  # the record's own check of how its fields fit together
        raise WireError("%s: %s" % (where, error)) from None


def _encode(value):
    if isinstance(value, Record):
        document = {}
        for field in record_fields(type(value)):
            item = getattr(value, field.name)
            if item is None and field.omit_none:
                continue
            document[field.name] = _encode(item)
        return document
    if isinstance(value, (tuple, list)):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    return value


def _shown(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
