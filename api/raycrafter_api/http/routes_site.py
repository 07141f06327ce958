"""Site agent endpoints: a site agent's token, for its own cluster, which must be in pull
mode (config ``pull_clusters``). Its other calls are the worker's (routes_worker.py)."""
from raycrafter_contract.wire.records import WireError
from raycrafter_contract.wire.site_calls import OpenJobsRequest, SiteCommands, TakenJobs

from ..jobs import open_jobs
from ..outbox import commands
from ..problems import bad_field
from . import httpio
from .errors import ApiError


def install(app, config):
    def site_agent():
        caller = httpio.principal("site")
        if caller.cluster not in config.pull_clusters:
            raise ApiError(403, "forbidden", f"cluster {caller.cluster} is not in pull mode "
                                             f"(the API's pull_clusters)",
                           {"cluster": caller.cluster})
        return caller

    @app.get("/api/v1/site/commands")
    def undone_commands():
        caller = site_agent()
        undone = commands.undone_for(caller.cluster, httpio.limit_param())
        return httpio.send_json(SiteCommands(tuple(commands.site_command(c) for c in undone)))

    @app.post("/api/v1/site/commands/<command_id>/done")
    def command_done(command_id):
        caller = site_agent()
        httpio.json_body()
        return httpio.send_json(commands.site_command(
            commands.mark_done(caller.cluster, command_id)))

    @app.post("/api/v1/site/open-jobs")
    def take_open_jobs():
        caller = site_agent()
        try:
            request = OpenJobsRequest.from_json(httpio.json_body())
        except WireError as error:
            raise bad_field("max_jobs", str(error)) from None
        if not 1 <= request.max_jobs <= open_jobs.MAX_TAKEN:
            raise bad_field("max_jobs", f"must be between 1 and {open_jobs.MAX_TAKEN}")
        taken = open_jobs.take(caller.cluster, request.max_jobs, caller.actor)
        return httpio.send_json(TakenJobs(tuple(taken)))
