"""A cursor over a job's frames: what a viewer polling a job asks for is only the frames
written since its last poll, not a margin of time, so a job rendering 1,500 frames a second
costs each poll the frames of the last poll's interval.

Every frames answer carries a cursor, the horizon of its snapshot (database/
change_stamps.py): a frame not in the answer, or written again after it, is written by a
transaction stamped at or above it. ``after=CURSOR`` returns the frames stamped at or above
it, so a write that commits after a later one is never missed; a frame may come twice.
The cursor is read before the page's rows, so it is no later than their snapshot, and a
client paging through one poll keeps the cursor of its first page.

A poll that pages bounds its later pages by that first cursor (``until``: only frames
stamped below it, every one of which has committed) and pages by frame number
(``from_number``), not by offset. Otherwise, while agents write the frames in the order
the pages read them, each page finds more written ahead of it and the poll chases them;
and a frame written again during the poll, which leaves the bound, would shift an offset
past a frame never read. What is written during the poll comes in the next one, which
asks ``after`` that same first cursor.

SQLite stamps nothing: there the cursor is always ``0`` and ``after`` returns every frame
of the job, which is correct and costs what reading the whole job costs.
"""
import re

from ..database.change_stamps import oldest_running
from ..database.db import is_postgres
from ..database.models import Frame
from ..problems import bad_field

CURSOR_PATTERN = "[0-9]{1,19}"  # a stamp, a bigint


def parse(text, field="after"):
    """The cursor a client sent as ``field`` (``after``, ``until``), or None when it sent
    none."""
    if text is None or text == "":
        return None
    if not re.fullmatch(CURSOR_PATTERN, text) or int(text) >= 2 ** 63:
        raise bad_field(field, "must be the cursor of an earlier frames answer")
    return int(text)


def current():
    """The cursor to hand out with an answer read after this call."""
    return str(oldest_running()) if is_postgres() else "0"


def written_between(query, after, until):
    """``query`` (of one job's frames) narrowed to those written at or after cursor
    ``after`` and before cursor ``until`` (either may be None: no bound)."""
    if not is_postgres():
        return query
    if after is not None:
        query = query.where(Frame.change_xact >= after)
    if until is not None:
        query = query.where(Frame.change_xact < until)
    return query
