"""A compute node without a way out: with the route to the API and the log server taken
away for real (nftables, support/no_way_out.py), a node agent cannot reach either and
gives up; through the login node's gateway, which reaches them by the login node's own
route, the same agent renders the job and its log records arrive. The closed ports are
closed to this test too, so it asks the API only once they are open again."""
import socket
import subprocess
import sys

import pytest
from raycrafter_nodeagent import exit_codes

from support.no_way_out import LOGIN_NODE_ROUTE, NoWayOut, reaches
from support.polling import wait_for


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gateway(tmp_path):
    processes = []

    def start(*routes):
        pid_file = tmp_path / "gateway.pid"
        arguments = [sys.executable, "-m", "raycrafter_nodeagent.gateway",
                     "--source", LOGIN_NODE_ROUTE, "--pid-file", str(pid_file)]
        for route in routes:
            arguments += ["--route", route]
        processes.append(subprocess.Popen(arguments, stderr=subprocess.DEVNULL))
        wait_for(pid_file.exists, timeout=10, message="the gateway listening")

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def test_an_agent_without_a_way_out_renders_through_the_login_nodes_gateway(setup, gateway):
    api = setup.start_api()
    receiver = setup.start_receiver()
    api_port, log_port = api.server.port, receiver.port
    job_id, job_dir = setup.job(frames="1-3")
    with NoWayOut([api_port, log_port]):
        assert not reaches(api_port) and not reaches(log_port)
        assert reaches(api_port, source=LOGIN_NODE_ROUTE)

        stranded = setup.agent(job_dir, job_id, "stranded", "--max-api-outage", "3",
                               log=True)
        assert stranded.wait(60) == exit_codes.API_UNREACHABLE, stranded.output()
        assert "Connection refused" in stranded.output() and "claimed" not in stranded.output()

        via_api, via_log = free_port(), free_port()
        gateway(f"127.0.0.1:{via_api}=127.0.0.1:{api_port}",
                f"127.0.0.1:{via_log}=127.0.0.1:{log_port}")
        routed = setup.agent(job_dir, job_id, "routed",
                             "--api-connect-to", f"127.0.0.1:{via_api}",
                             "--log-host", "127.0.0.1", "--log-port", str(via_log))
        assert routed.wait(120) == 0, routed.output()
    assert api.job(job_id)["state"] == "collecting"
    assert {n: f["state"] for n, f in api.frames(job_id).items()} == {1: "done", 2: "done",
                                                                     3: "done"}
    records = receiver.wait_for(lambda rs: any("exits with status 0" in r["short_message"]
                                               and r["_node"] for r in rs))
    assert {r["_job_id"] for r in records} == {str(job_id)}
    assert any(r.get("_frame") == "3" for r in records)
