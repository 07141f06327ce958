"""Frames as users see them, their images and logs, and image uploads by the worker."""
import os
import tempfile
import zipfile

from raycrafter_contract.naming import PNG_SIGNATURE, frame_file_name
from raycrafter_contract.wire.endpoints import CHECKSUM_HEADER
from raycrafter_contract.wire.worker_calls import UncollectedFrame, UncollectedFrames

from .. import timeutil
from ..database import pagination
from ..database.db import write_transaction
from ..database.models import Frame
from ..problems import Invalid, NotFound, conflict, not_found
from ..storage import files
from . import frame_cursor


def view(frame):
    return {"number": frame.number, "state": frame.state, "attempts": frame.attempts,
            "holder": frame.lease_holder, "lease_expires_at": timeutil.iso(frame.lease_expires_at),
            "render_seconds": frame.render_seconds, "checksum": frame.checksum,
            "size": frame.size, "error": frame.error,
            "image_available": frame.image_checksum is not None,
            "updated_at": timeutil.iso(frame.updated_at)}


def list_page(job, limit, offset, after=None, until=None, from_number=None):
    """A page of the job's frames by number, with the cursor that asks for what is written
    after it; with ``after`` (a cursor), only the frames written since, with ``until``
    only those written before (frame_cursor.py); from frame ``from_number`` on. The
    answer's ``next_number`` is where the next page begins (None after the last)."""
    cursor = frame_cursor.current()
    query = frame_cursor.written_between(Frame.select().where(Frame.job == job.id), after,
                                         until)
    if from_number is not None:
        query = query.where(Frame.number >= from_number)
    listing = pagination.page(query, Frame.number, limit, offset, "frames",
                              lambda rows: [view(f) for f in rows])
    frames = listing["frames"]
    last = frames[-1]["number"] if len(frames) == limit else None
    return {**listing, "cursor": cursor, "next_number": None if last is None else last + 1}


def get(job, number):
    frame = Frame.get_or_none(Frame.job == job.id, Frame.number == number)
    if frame is None:
        raise not_found("frame")
    return frame


def uncollected(job, limit):
    """Frames an agent reported done whose image the worker has not uploaded yet, lowest
    first, at most ``limit``, with how many there are in all.

    This is the one rule of what is left to collect: the worker's poller stages these out
    while the batch job runs, and the end-of-job collect fetches what is still here."""
    waiting = ((Frame.job == job.id) & (Frame.state == "done")
               & Frame.image_checksum.is_null())
    rows = (Frame.select(Frame.number, Frame.checksum, Frame.size).where(waiting)
            .order_by(Frame.number).limit(limit))
    return UncollectedFrames(
        frames=tuple(UncollectedFrame(f.number, f.checksum, f.size) for f in rows),
        total=Frame.select().where(waiting).count())


def image_path(config, job, number):
    """The stored image of a frame, or NotFound while the worker has not uploaded it."""
    frame = get(job, number)
    path = files.frame_image_path(config, job.id, number)
    if frame.image_checksum is None or not os.path.exists(path):
        raise NotFound("image_not_available",
                       f"frame {number} has no image yet (state {frame.state})",
                       {"frame_state": frame.state})
    return path


def build_archive(config, job):
    """A temporary file holding a zip of every uploaded frame image (caller deletes it)."""
    numbers = [f.number for f in Frame.select(Frame.number).where(
        Frame.job == job.id, Frame.image_checksum.is_null(False)).order_by(Frame.number)]
    if not numbers:
        raise conflict("no_images", "no frame image has been collected yet")
    handle = tempfile.NamedTemporaryFile(dir=os.path.join(config.data_dir, "tmp"),
                                         prefix="archive-", suffix=".zip", delete=False)
    with handle, zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
        for number in numbers:
            archive.write(files.frame_image_path(config, job.id, number),
                          f"job-{job.id}/{frame_file_name(number)}")
    return handle.name


def store_image(config, job, number, upload, claimed_checksum):
    """Keep an uploaded frame image once its checksum matches the header and what the
    agent reported; Conflict while the frame is not done."""
    frame = get(job, number)
    if frame.state != "done":
        raise conflict("frame_not_done", f"frame {number} is {frame.state}, not done",
                       {"frame_state": frame.state})
    if upload.checksum != claimed_checksum:
        raise Invalid("checksum_mismatch", f"the body does not match {CHECKSUM_HEADER}",
                       {"field": CHECKSUM_HEADER, "received": upload.checksum})
    if frame.checksum and upload.checksum != frame.checksum:
        raise Invalid("checksum_mismatch",
                       "the image differs from the one the node agent rendered",
                       {"field": "body", "expected": frame.checksum,
                        "received": upload.checksum})
    with open(upload.path, "rb") as f:
        if f.read(len(PNG_SIGNATURE)) != PNG_SIGNATURE:
            raise Invalid("not_png", "the body is not a PNG image", {"field": "body"})
    with write_transaction():
        files.place(upload, files.frame_image_path(config, job.id, number))
        Frame.update(image_checksum=upload.checksum, updated_at=timeutil.now()).where(
            Frame.id == frame.id).execute()
