"""Worker endpoints: the worker's service token, or a site agent's token for its own
cluster's jobs (a site agent is the worker of its cluster)."""
import bottle
from raycrafter_contract.naming import MAX_PAGE
from raycrafter_contract.wire.endpoints import CHECKSUM_HEADER, SCENE_KIND_HEADER
from raycrafter_contract.wire.worker_calls import (EXIT_STATUS_MAX, EXIT_STATUS_MIN,
                                                   ServiceLogCredential, StoredImage)

from .. import auth, job_records
from ..frames import frame_results
from ..jobs import job_lookup, job_states, job_views, submissions, worker_reports
from ..problems import bad_field
from ..storage import files
from . import httpio
from .errors import ApiError


def install(app, config):
    @app.get("/api/v1/worker/jobs")
    def list_jobs():
        caller = httpio.worker_side()
        states = [job_states.check_state_name("state", s)
                  for s in bottle.request.query.getall("state")]
        cluster = bottle.request.query.get("cluster") or caller.cluster
        if not auth.may_reach_cluster(caller, cluster):
            raise ApiError(403, "forbidden", f"this site agent's token is for cluster "
                                             f"{caller.cluster}", {"cluster": caller.cluster})
        return httpio.send_json(job_views.list_for_worker(cluster, states))

    @app.get("/api/v1/worker/log-credential")
    def log_credential():
        service = job_records.service_name(httpio.worker_side())
        credential = job_records.service_credential(config, service)
        if credential is None:
            raise ApiError(404, "no_log_credentials", "this API holds no log credential key, "
                                                      "so it issues no log credentials")
        return httpio.send_json(ServiceLogCredential(service, credential))

    @app.get("/api/v1/worker/jobs/<job_id:int>")
    def get_job(job_id):
        job = job_lookup.job_for_worker(job_id, httpio.worker_side())
        return httpio.send_json(job_views.view_of(job, full=True))

    @app.get("/api/v1/worker/jobs/<job_id:int>/input")
    def get_input(job_id):
        job = job_lookup.job_for_worker(job_id, httpio.worker_side())
        return httpio.send_file(files.input_path(config, job), "application/octet-stream",
                                headers={SCENE_KIND_HEADER: job.scene_kind,
                                         CHECKSUM_HEADER: job.scene_checksum})

    @app.post("/api/v1/worker/jobs/<job_id:int>/submissions")
    def record_submission(job_id):
        job_lookup.job_for_worker(job_id, httpio.worker_side())
        httpio.json_body()
        submission = submissions.record_submission(job_id, config)
        return httpio.send_json(submission, 201)

    @app.post("/api/v1/worker/jobs/<job_id:int>/transition")
    def transition(job_id):
        caller = httpio.worker_side()
        job_lookup.job_for_worker(job_id, caller)
        body = httpio.json_body()
        to = body.get("to")
        if not isinstance(to, str):
            raise bad_field("to", "is required")
        job = worker_reports.worker_transition(job_id, to, _batch_job_id(body),
                                               _optional_text(body, "reason"),
                                               _attempt(body, required=False), caller.actor)
        return httpio.send_json(job_views.view_of(job, full=True))

    @app.post("/api/v1/worker/jobs/<job_id:int>/batch-ended")
    def batch_ended(job_id):
        caller = httpio.worker_side()
        job_lookup.job_for_worker(job_id, caller)
        body = httpio.json_body()
        exit_status = body.get("exit_status")
        if exit_status is not None and (isinstance(exit_status, bool)
                                        or not isinstance(exit_status, int)
                                        or not EXIT_STATUS_MIN <= exit_status <= EXIT_STATUS_MAX):
            raise bad_field("exit_status", "must be an integer exit status or null")
        job = worker_reports.batch_ended(job_id, _attempt(body, required=True),
                                         _batch_job_id(body), _optional_text(body, "reason"),
                                         exit_status, config, caller.actor)
        return httpio.send_json(job_views.view_of(job, full=True))

    @app.get("/api/v1/worker/jobs/<job_id:int>/frames/uncollected")
    def uncollected_frames(job_id):
        job = job_lookup.job_for_worker(job_id, httpio.worker_side())
        return httpio.send_json(frame_results.uncollected(job, httpio.limit_param(MAX_PAGE)))

    @app.put("/api/v1/worker/jobs/<job_id:int>/frames/<number:frame>/image")
    def put_image(job_id, number):
        caller = httpio.worker_side()
        httpio.require_media_type("image/png")
        claimed = (bottle.request.get_header(CHECKSUM_HEADER) or "").strip().lower()
        if not claimed:
            raise bad_field(CHECKSUM_HEADER, "header is required")
        if bottle.request.content_length > config.max_upload_bytes:
            raise ApiError(413, "too_large",
                           f"uploads are limited to {config.max_upload_bytes} bytes",
                           {"limit": config.max_upload_bytes})
        job = job_lookup.job_for_worker(job_id, caller)
        frame_results.get(job, number)
        upload = files.receive(config, bottle.request.body, config.max_upload_bytes)
        try:
            frame_results.store_image(config, job, number, upload, claimed)
        finally:
            upload.discard()
        return httpio.send_json(StoredImage(number, upload.checksum), 201)


def _batch_job_id(body):
    batch_job_id = body.get("batch_job_id")
    if batch_job_id is not None and (not isinstance(batch_job_id, str)
                                     or not 0 < len(batch_job_id) <= 128):
        raise bad_field("batch_job_id", "must be a string of 1 to 128 characters")
    return batch_job_id


def _optional_text(body, field):
    text = body.get(field)
    if text is not None and not isinstance(text, str):
        raise bad_field(field, "must be a string")
    return text


def _attempt(body, required):
    attempt = body.get("attempt")
    if attempt is None and not required:
        return None
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        raise bad_field("attempt", "must be a submission attempt number (1 or more)")
    return attempt
