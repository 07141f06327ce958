"""JSON text as the wire reads it: the standard's numbers only.

Python's json module takes ``NaN``, ``Infinity`` and ``-Infinity``, which JSON does not
have, and turns a number too large for a float (``1e999``) into infinity. None of them
means anything in a body (a render time of NaN once made every later chunked claim of its
job fail), so every reader of the wire decodes through ``loads``, which refuses them and
names the field that held one.

The standard library only, down to Python 3.8: the node agent runs on old cluster Pythons.
"""
import json
import math

from .records import WireError


class NonFiniteNumber(WireError):
    """A number that is not finite. ``field`` is where it was (``render_seconds``,
    ``options.antialias_threshold``, ``frames[2]``; ``body`` for the whole document) and
    ``problem`` what is wrong with it."""

    def __init__(self, field, spelling):
        self.field = field
        self.problem = "must be a finite number, not %s" % spelling
        super().__init__("%s %s" % (field, self.problem))


class _Refused:
    """Stands in for a non-finite number until its place in the document is known."""

    def __init__(self, spelling):
        self.spelling = spelling


def loads(text):
    """The JSON document ``text`` (str or bytes) holds. Raises ValueError for text that is
    not JSON and NonFiniteNumber (a ValueError too) for a number that is not finite."""
    refused = []

    def refuse(spelling):
        refused.append(_Refused(spelling))
        return refused[-1]

    def number(spelling):
        value = float(spelling)
        return value if math.isfinite(value) else refuse(spelling)

    document = json.loads(text, parse_constant=refuse, parse_float=number)
    if refused:
        raise NonFiniteNumber(_place_of(refused[0], document, "body"), refused[0].spelling)
    return document


def _place_of(wanted, value, where):
    if value is wanted:
        return where
    if isinstance(value, dict):
        items = (("%s.%s" % (where, key) if where != "body" else key, item)
                 for key, item in value.items())
    elif isinstance(value, list):
        items = (("%s[%d]" % (where, index), item) for index, item in enumerate(value))
    else:
        return None
    for place, item in items:
        found = _place_of(wanted, item, place)
        if found is not None:
            return found
    return None
