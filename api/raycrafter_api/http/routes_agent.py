"""Node agent endpoints: an agent token may touch only the frames of its own job."""
from ..frames import frame_reports, leases
from ..metrics.series import AGENT_REQUEST_SECONDS
from . import httpio

_CLAIM_SECONDS = AGENT_REQUEST_SECONDS.labels("claim")
_COMPLETE_SECONDS = AGENT_REQUEST_SECONDS.labels("complete")
_FAIL_SECONDS = AGENT_REQUEST_SECONDS.labels("fail")
_REPORT_SECONDS = AGENT_REQUEST_SECONDS.labels("report")


def install(app, config):
    @app.post("/api/v1/agent/jobs/<job_id:int>/claim")
    @_CLAIM_SECONDS.time()
    def claim(job_id):
        httpio.agent_of(job_id)
        body = httpio.json_body()
        return httpio.send_json(leases.claim(job_id, body.get("holder"), config,
                                             body.get("max_frames", 1)))

    @app.post("/api/v1/agent/jobs/<job_id:int>/frames/<number:frame>/heartbeat")
    def heartbeat(job_id, number):
        httpio.agent_of(job_id)
        body = httpio.json_body()
        return httpio.send_json(leases.heartbeat(job_id, number, body.get("lease_id"), config))

    @app.post("/api/v1/agent/jobs/<job_id:int>/frames/<number:frame>/complete")
    @_COMPLETE_SECONDS.time()
    def complete(job_id, number):
        httpio.agent_of(job_id)
        return httpio.send_json(frame_reports.complete(job_id, number, httpio.json_body(),
                                                       config))

    @app.post("/api/v1/agent/jobs/<job_id:int>/frames/<number:frame>/fail")
    @_FAIL_SECONDS.time()
    def fail(job_id, number):
        httpio.agent_of(job_id)
        return httpio.send_json(frame_reports.fail(job_id, number, httpio.json_body(), config))

    @app.post("/api/v1/agent/jobs/<job_id:int>/frames/<number:frame>/release")
    def release(job_id, number):
        httpio.agent_of(job_id)
        return httpio.send_json(frame_reports.release(job_id, number, httpio.json_body(),
                                                      config))

    @app.post("/api/v1/agent/jobs/<job_id:int>/reports")
    @_REPORT_SECONDS.time()
    def reports(job_id):
        httpio.agent_of(job_id)
        return httpio.send_json(frame_reports.report(job_id, httpio.json_body(), config))
