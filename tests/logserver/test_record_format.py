"""The records the log server writes read as syslog-ng's did (the log server the appliance
ran before, and the ground truth the tests and the operators' searches were written
against): the same fields, every value a string, no spaces between fields. The records are
the node agent's own, from its shipping handler and log context."""
import logging

from raycrafter_contract.gelf_shipping import GelfShippingHandler
from raycrafter_nodeagent.log_context import LogContext

from .syslog_ng import SyslogNg

# What the log server vouches for, beside what the record said.
ADDED = {"_submit_attempt", "_source"}
JOB_ID = 4711


def ship(port, credential):
    """Log what an agent logs, through the agent's handler, to the receiver on ``port``."""
    context = LogContext(JOB_ID, "nid00042", "4242")
    handler = GelfShippingHandler("127.0.0.1", port, node="nid00042", credential=credential,
                                  queue_size=100)
    handler.addFilter(context)
    logger = logging.getLogger("raycrafter_nodeagent.format-test")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.info("agent for job %d starting", JOB_ID)
    context.enter_frame(3, 2, "lease-0f3c")
    logger.warning("Parsing \u00e9l\u00e8ve \u2603 \"quoted\" \\ tab\there")
    context.leave_frame()
    try:
        raise ValueError("a traceback, on several lines")
    except ValueError:
        logger.exception("frame 3 failed")
    logger.removeHandler(handler)
    handler.close(flush_seconds=10)
    assert (handler.sent, handler.dropped) == (3, 0)


def as_number(text):
    try:
        return float(text)
    except ValueError:
        return None


def test_records_read_as_syslog_ngs_did(log_server, tmp_path):
    server = log_server()
    credential = server.credential(JOB_ID, attempt=2)
    with SyslogNg(tmp_path / "syslog-ng") as syslog_ng:
        ship(syslog_ng.port, credential)
        theirs = syslog_ng.wait_for(lambda rs: len(rs) == 3)
        raw_theirs = open(syslog_ng.records_file, encoding="utf-8").read()
    ship(server.port, credential)
    ours = server.wait_for(lambda rs: len(rs) == 3)
    raw_ours = open(server.records_file, encoding="utf-8").read()

    for mine, reference in zip(ours, theirs):
        reference.pop("_log_credential")
        assert (mine["_submit_attempt"], mine["_source"]) == ("2", "127.0.0.1")
        assert set(mine) - ADDED == set(reference)
        for name, value in reference.items():
            assert isinstance(mine[name], str), name
            if name == "timestamp":  # each was shipped at its own moment
                assert abs(as_number(mine[name]) - as_number(value)) < 60
            elif mine[name] != value:
                # Numbers are as the agent wrote them; syslog-ng prints floats with six
                # decimals.
                assert as_number(mine[name]) is not None, (name, mine[name], value)
                assert abs(as_number(mine[name]) - as_number(value)) < 1e-6, name
    assert ours[1]["_frame"] == "3" and ours[1]["_attempt"] == "2"
    assert "\u2603" in ours[1]["short_message"] and "Traceback" in ours[2]["full_message"]
    # A job's records are found the same way in both files.
    needle = f'"_job_id":"{JOB_ID}"'
    assert raw_ours.count(needle) == raw_theirs.count(needle) == 3
    assert "\u00e9l\u00e8ve \u2603" in raw_ours and "\u00e9l\u00e8ve \u2603" in raw_theirs
