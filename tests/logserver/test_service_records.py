"""The appliance's services' records about jobs (raycrafter_contract.job_logging), sent
through their real handler to the real log server: filed with the job they name, marked
with the service the credential names, and taken only with a credential the key signed."""
import logging
import threading

from raycrafter_contract import job_logging, log_credentials
from support.polling import wait_for

from .conftest import frame, send


def log_as_a_service(server, credential, program="raycrafter-worker"):
    """What a worker logs while it handles job 7's command (and, within it, job 8's), plus
    its chatter and a warning about no job, through the handler a service installs."""
    handler = job_logging.ship_job_records(f"127.0.0.1:{server.port}", credential, program)
    logger = logging.getLogger("raycrafter_worker.service-records-test")
    logger.setLevel(logging.DEBUG)
    try:
        with job_logging.about_job(7):
            logger.info("job 7: staging its scene in")
            # Another thread works on no job of this one's.
            other = threading.Thread(target=logger.info, args=("connected to the cluster",))
            other.start()
            other.join()
            with job_logging.about_job(8):
                logger.info("job 8: running reported")
            logger.debug("a detail of job 7, below the level shipped")
        logger.info("consuming the command queue")
        logger.warning("broker connection failed")
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close(flush_seconds=10)
    return handler


def test_a_services_records_are_filed_with_their_jobs_and_name_the_service(log_server):
    server = log_server()
    credential = log_credentials.issue_for_service(server.key.encode(), "raycrafter-worker")
    handler = log_as_a_service(server, credential)
    assert (handler.queued, handler.sent, handler.dropped) == (3, 3, 0)
    records = server.wait_for(lambda rs: len(rs) == 3)
    assert [(r["short_message"], r.get("_job_id")) for r in records] == [
        ("job 7: staging its scene in", "7"), ("job 8: running reported", "8"),
        ("broker connection failed", None)]
    assert {(r["_service"], r["_program"]) for r in records} == {
        ("raycrafter-worker", "raycrafter-worker")}
    assert all("_log_credential" not in r and "_submit_attempt" not in r for r in records)


def test_a_service_names_only_a_job_number(log_server):
    server = log_server()
    credential = log_credentials.issue_for_service(server.key.encode(), "raycrafter-api")
    record = {"version": "1.1", "host": "web", "short_message": "odd",
              log_credentials.RECORD_FIELD: credential}
    send(server, frame(dict(record, _job_id="7 or 1=1")), frame(dict(record, _job_id=12,
                                                                     _submit_attempt=3)))
    first, second = server.wait_for(lambda rs: len(rs) == 2)
    assert "_job_id" not in first
    assert (second["_job_id"], second.get("_submit_attempt")) == ("12", None)


def test_a_service_credential_of_another_key_is_refused(log_server):
    server = log_server()
    forged = log_credentials.issue_for_service(b"k" * 43, "raycrafter-worker")
    log_as_a_service(server, forged)
    wait_for(lambda: "a service credential this server's key did not sign" in server.output(),
             timeout=20, message="the refusal reported")
    assert server.records() == []
