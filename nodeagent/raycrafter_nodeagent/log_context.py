"""The fields that tie every log line to a job, a node and a frame attempt.

On the log server, records of hundreds of agents interleave; these fields are what lets an
operator pull out "everything about frame 17, attempt 2 of job 42". One context is shared
by the agent's render slots (each knows its frame) and the handlers (which stamp records).
"""

import logging
import threading
from typing import Dict, Optional, Union

FieldValue = Union[str, int]


class LogContext(logging.Filter):
    """Stamps the current fields onto each record passing a handler.

    Fields without a value (no frame leased yet, not inside a batch job) are left out
    rather than sent empty, because GELF receivers such as Graylog discard empty fields
    anyway and a missing field is easier to query than an empty one.
    """

    FRAME_FIELDS = ("frame", "attempt", "lease_id")

    def __init__(self, job_id: int, node: str, batch_job_id: Optional[str]) -> None:
        super().__init__()
        self._fields: Dict[str, FieldValue] = {"job_id": job_id, "node": node}
        if batch_job_id:
            self._fields["batch_job_id"] = batch_job_id
        # Each render slot is a thread working on its own frames: the frame fields are the
        # logging thread's own (a handler's filter runs in the thread that logs).
        self._frame = threading.local()

    def enter_frame(self, frame: int, attempt: int, lease_id: str) -> None:
        self._frame.fields = {"frame": frame, "attempt": attempt, "lease_id": lease_id}

    def leave_frame(self) -> None:
        self._frame.fields = {}

    def filter(self, record: logging.LogRecord) -> bool:
        fields = dict(self._fields, **getattr(self._frame, "fields", {}))
        for name, value in fields.items():
            if not hasattr(record, name):
                setattr(record, name, value)
        # Underscored, so graypy does not ship it as a field: it only decorates stderr.
        record._frame_tag = " [frame %s]" % fields["frame"] if "frame" in fields else ""
        return True
