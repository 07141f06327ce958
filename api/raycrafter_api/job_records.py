"""The API's side of the services' records about jobs (raycrafter_contract.job_logging):
its own programs' records go to the log server with a service credential it signs itself
with the log credential key, and it signs the worker's and each site agent's, naming the
account that asked, so a record on the log host says which of them wrote it."""
from raycrafter_contract import job_logging, log_credentials


def service_name(principal):
    """The service a worker-side principal's records are written as."""
    if principal.kind == "site":
        return f"raycrafter-siteagent:{principal.cluster}"
    return "raycrafter-worker"


def service_credential(config, service):
    """The credential of ``service``; None when this API holds no log credential key."""
    if not config.log_credential_key:
        return None
    return log_credentials.issue_for_service(config.log_credential_key.encode("utf-8"),
                                             service)


def ship(config, program):
    """Send ``program``'s records about jobs to the log server (config ``log_server``);
    the handler, or None without a log server or a key to sign the credential with."""
    credential = service_credential(config, program)
    if not config.log_server or credential is None:
        return None
    return job_logging.ship_job_records(config.log_server, credential, program,
                                        config.log_server_ca_file)
