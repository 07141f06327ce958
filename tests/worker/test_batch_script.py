"""The batch script: the node agent's command line, read back by the agent's own parser
(the profile's name, whether it allows rendering unconfined, its renderer limits); the
launcher that starts one agent per node; and the script itself run by bash, leaving the
files the poller reads."""
import subprocess

import pytest
from raycrafter_nodeagent.config import build_parser

from raycrafter_worker import config as worker_config
from raycrafter_worker.batch_script import JobFiles, agent_command, launcher, render
from raycrafter_worker.cluster import Cluster, ScriptEnding
from raycrafter_worker.schedulers.pbspro import PbsProScheduler
from raycrafter_worker.transport import Result


def profile(tmp_path, **keys):
    key_file, known_hosts = tmp_path / "key", tmp_path / "known_hosts"
    key_file.write_text("key")
    known_hosts.write_text("host")
    return worker_config.parse_profile("archer", {
        "login_host": "login.example.org", "user": "render", "key_file": str(key_file),
        "known_hosts_file": str(known_hosts), "scheduler": "slurm", "launcher": "srun",
        "scratch": "/scratch", "nodeagent": "/opt/raycrafter/bin/raycrafter-nodeagent",
        "agent_api_url": "https://api.example.org", "transfer": "sftp", **keys})


def agent_options(cluster_profile):
    """The options the agent sees, as its parser reads the batch script's command line."""
    files = JobFiles(cluster_profile.job_dir(12), attempt=1)
    argv = agent_command(cluster_profile, 12, files)
    assert argv[0] == cluster_profile.nodeagent
    return build_parser({}).parse_args(argv[1:])


def test_the_agent_is_told_its_cluster_and_renders_only_confined_by_default(tmp_path):
    options = agent_options(profile(tmp_path))
    assert options.cluster == "archer"
    assert options.allow_unconfined is False
    defaults = build_parser({}).parse_args([])
    for name in worker_config.RENDERER_LIMITS:
        assert getattr(options, name) == getattr(defaults, name)


def test_a_profile_passes_its_permission_and_its_renderer_limits_to_the_agent(tmp_path):
    limits = {"max_file_bytes": 256 << 20, "max_memory_bytes": 8 << 30,
              "max_cpu_seconds": 600, "max_work_dir_bytes": 4 << 30, "output_lines": 100,
              "output_bytes": 16384}
    assert set(limits) == set(worker_config.RENDERER_LIMITS)
    options = agent_options(profile(tmp_path, allow_unconfined=True,
                                    **{"renderer_" + name: value
                                       for name, value in limits.items()}))
    assert options.allow_unconfined is True
    assert {name: getattr(options, name) for name in limits} == limits


def test_behind_a_gateway_the_agent_connects_to_the_login_node_and_verifies_the_real_names(
        tmp_path):
    """Compute nodes without a way out: the API's calls and the log records go to the
    login node's gateway; the URL and the log server's name, which TLS verifies, stay."""
    routed = profile(tmp_path, gateway_host="login-ib.example.org", gateway_port=8443,
                     gateway_log_port=12202, log_host="logs.example.org", log_port=12201,
                     log_tls=True, agent_ca_file="/etc/ca.pem")
    options = agent_options(routed)
    assert options.api_url == "https://api.example.org"
    assert options.api_connect_to == "login-ib.example.org:8443"
    assert (options.log_host, options.log_port) == ("login-ib.example.org", 12202)
    assert options.log_server_name == "logs.example.org" and options.log_tls is True
    direct = agent_options(profile(tmp_path, log_host="logs.example.org"))
    assert direct.api_connect_to is None and direct.log_server_name is None
    assert (direct.log_host, direct.log_port) == ("logs.example.org", 12201)


def test_aprun_starts_one_agent_per_node_with_the_nodes_cores(tmp_path):
    cray = profile(tmp_path, scheduler="pbspro", launcher="aprun", nodes=4, cores_per_node=36)
    assert launcher(cray) == ["aprun", "-n", "4", "-N", "1", "-d", "36", "-cc", "depth"]


def test_srun_gives_each_agent_the_nodes_cores_where_the_profile_says_how_many(tmp_path):
    assert launcher(profile(tmp_path, nodes=2)) == [
        "srun", "--nodes=2", "--ntasks=2", "--ntasks-per-node=1"]
    assert launcher(profile(tmp_path, nodes=2, cores_per_node=8))[-1] == "--cpus-per-task=8"


FAKE_APRUN = """#!/bin/sh
# Stands in for ALPS's aprun: records how it was asked, then refuses the placement the
# way ALPS does when a request exceeds the batch reservation.
printf '%s\\n' "$@" > "$RAYCRAFTER_TEST_DIR/aprun-args"
echo "apsched: claim exceeds reservation's node-count" >&2
exit 1
"""


def test_the_script_runs_setup_then_aprun_and_leaves_its_batch_job_and_its_end(tmp_path):
    """The batch script run by bash as a PBS job would run it: its batch job's id, its
    exit status and aprun's refusal end up where the poller reads them (the endings
    command, run by a local shell as the login node's would)."""
    bin_dir, job_dir = tmp_path / "bin", tmp_path / "scratch" / "raycrafter" / "12"
    bin_dir.mkdir()
    (bin_dir / "aprun").write_text(FAKE_APRUN)
    (bin_dir / "aprun").chmod(0o755)
    (job_dir / "logs").mkdir(parents=True)
    cray = profile(tmp_path, scheduler="pbspro", launcher="aprun", nodes=2, cores_per_node=36,
                   scratch=str(tmp_path / "scratch"),
                   setup=['module() { echo "module $*" > "$RAYCRAFTER_TEST_DIR/setup"; }',
                          "module load cray-python"])
    files = JobFiles(cray.job_dir(12), attempt=1)
    (job_dir / "logs" / "batch-1.sh").write_text(
        render(cray, 12, "teapot", files, PbsProScheduler.JOB_ID_VARIABLE))
    with open(files.stderr, "w") as err, open(files.stdout, "w") as out:
        done = subprocess.run(["bash", files.script], stdout=out, stderr=err, timeout=30,
                              env={"PATH": f"{bin_dir}:/usr/bin:/bin", "PBS_JOBID": "4711.pbs01",
                                   "RAYCRAFTER_TEST_DIR": str(tmp_path)})
    assert done.returncode == 1
    assert (tmp_path / "setup").read_text() == "module load cray-python\n"
    args = (tmp_path / "aprun-args").read_text().splitlines()
    assert args[:9] == ["-n", "2", "-N", "1", "-d", "36", "-cc", "depth", cray.nodeagent]
    assert open(files.started_file).read() == "4711.pbs01\n"
    assert open(files.exit_file).read() == "1\n"

    cluster = Cluster(cray, str(tmp_path))
    cluster.run = lambda command, stdin=None, timeout=None: _locally(command)
    assert cluster.script_endings([(12, 1), (12, 2)]) == {
        (12, 1): ScriptEnding(1, ("apsched: claim exceeds reservation's node-count",)),
        (12, 2): ScriptEnding(None, ())}


def _locally(command):
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30)
    return Result(done.returncode, done.stdout, done.stderr)


def test_only_an_environment_variable_name_is_written_into_the_script(tmp_path):
    files = JobFiles("/scratch/raycrafter/12", attempt=1)
    with pytest.raises(ValueError):
        render(profile(tmp_path), 12, "x", files, "PBS_JOBID}; rm -rf ~; ${X")
