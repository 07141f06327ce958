"""The batch script a submission runs, from one template with every value shell-quoted.

Values that come from users or the API (the job's name, paths built from ids) are
quoted with shlex.quote; only the profile's ``setup`` lines are inserted as they are,
because they are shell by design and come from the operator's configuration.

The script records its batch job's id in ``logs/batch-ATTEMPT.started`` as it starts, and
its exit status in ``logs/batch-ATTEMPT.exit`` (also when it is stopped with SIGTERM at
walltime): without accounting, or on a PBS server that keeps no history, a job that has
left the queue is otherwise indistinguishable from one that was lost or never submitted.
"""
import dataclasses
import re
import shlex
import string

from raycrafter_contract.naming import (AGENT_TOKEN_FILE, JOB_FRAMES_DIR, JOB_INPUT_DIR,
                                        JOB_LOGS_DIR, LOG_CREDENTIAL_FILE, frame_file_name)

from . import gateway

_TEMPLATE = string.Template("""\
#!/bin/bash
# Raycrafter batch job: job $job_id, attempt $attempt (written by raycrafter-worker).
export RAYCRAFTER_JOB_NAME=$job_name
job_dir=$job_dir
exit_file=$exit_file
started_file=$started_file
agent=
record_exit() {
    status=$$?
    printf '%s\\n' "$$status" > "$$exit_file.tmp" && mv -f "$$exit_file.tmp" "$$exit_file"
}
trap record_exit EXIT
printf '%s\\n' "$${$job_id_variable:-}" > "$$started_file.tmp" && mv -f "$$started_file.tmp" "$$started_file"
# At walltime the scheduler sends SIGTERM: pass it on so the agent hands its frame back.
trap 'if [ -n "$$agent" ]; then kill -TERM "$$agent" 2>/dev/null; wait "$$agent"; fi; exit 143' TERM INT
cd "$$job_dir" || exit 1
echo "raycrafter: job $job_id attempt $attempt ($$RAYCRAFTER_JOB_NAME) on $$(hostname)"
$setup
$launch &
agent=$$!
wait "$$agent"
""")


@dataclasses.dataclass(frozen=True)
class JobFiles:
    """Where one submission attempt keeps its files on scratch (docs/protocol.md)."""

    job_dir: str
    attempt: int

    @property
    def input_dir(self):
        return f"{self.job_dir}/{JOB_INPUT_DIR}"

    @property
    def frames_dir(self):
        return f"{self.job_dir}/{JOB_FRAMES_DIR}"

    @property
    def logs_dir(self):
        return f"{self.job_dir}/{JOB_LOGS_DIR}"

    @property
    def token_file(self):
        return f"{self.job_dir}/{AGENT_TOKEN_FILE}"

    @property
    def log_credential_file(self):
        return f"{self.job_dir}/{LOG_CREDENTIAL_FILE}"

    @property
    def logs_prefix(self):
        """Every file of this attempt in logs/ is this plus a suffix."""
        return f"{self.logs_dir}/batch-{self.attempt}"

    @property
    def script(self):
        return f"{self.logs_prefix}.sh"

    @property
    def stdout(self):
        return f"{self.logs_prefix}.out"

    @property
    def stderr(self):
        return f"{self.logs_prefix}.err"

    @property
    def exit_file(self):
        return f"{self.logs_prefix}.exit"

    @property
    def started_file(self):
        return f"{self.logs_prefix}.started"

    @property
    def submission_marker(self):
        """Created by the one command that hands this attempt to the scheduler (cluster.py),
        with the scheduler's answer inside once it has one."""
        return f"{self.logs_prefix}.submitted"

    def frame(self, number):
        return f"{self.frames_dir}/{frame_file_name(number)}"


def agent_command(profile, job_id, files):
    """The node agent's command line (docs/nodeagent.md); the token stays in its file. The
    profile's name goes along, for the reasons the agent gives (allow_unconfined). Where
    compute nodes have no way out, the agent reaches the API and the log server through
    the login node's gateway (gateway.py)."""
    args = [profile.nodeagent, "--api-url", profile.agent_api_url, "--job-id", str(job_id),
            "--job-dir", files.job_dir, "--token-file", files.token_file,
            "--cluster", profile.name]
    if profile.allow_unconfined:
        args.append("--allow-unconfined")
    for name, value in sorted(profile.renderer_limits.items()):
        args += ["--" + name.replace("_", "-"), str(value)]
    if profile.agent_ca_file:
        args += ["--ca-file", profile.agent_ca_file]
    if profile.gateway_host:
        args += gateway.agent_arguments(profile)
    elif profile.log_host:
        args += ["--log-host", profile.log_host, "--log-port", str(profile.log_port)]
    if profile.log_host and profile.log_tls:
        args.append("--log-tls")
        if profile.log_ca_file:
            args += ["--log-ca-file", profile.log_ca_file]
    return args


def launcher(profile):
    """One agent per node: aprun on Cray systems (ALPS), srun under Slurm. The agent's
    render slots use the node's cores: aprun gives a process one core unless ``-d`` asks
    for more, and ``-cc depth`` lets the renderers it starts use all of them."""
    n = str(profile.nodes)
    if profile.launcher == "aprun":
        return ["aprun", "-n", n, "-N", "1", "-d", str(profile.cores_per_node),
                "-cc", "depth"]
    cores = [f"--cpus-per-task={profile.cores_per_node}"] if profile.cores_per_node else []
    return ["srun", f"--nodes={n}", f"--ntasks={n}", "--ntasks-per-node=1", *cores]


# What the launchers (and Slurm's step daemon) print when they fail or kill the agent,
# as grep -E reads it: ALPS refusing the placement ("apsched: claim exceeds reservation's
# node-count"), its node messages ("[NID 04371] ... OOM killer terminated this process."),
# aprun's exit summary; srun's and slurmstepd's errors (Slurm 22.05 names the node:
# "slurmstepd-node7: error: *** JOB 12 ON node7 CANCELLED AT ... DUE TO TIME LIMIT ***").
LAUNCHER_MESSAGES = (r"apsched: |^aprun: |^\[NID [0-9]+\] |"
                     r"^Application [0-9]+ exit (codes|signals):|"
                     r"^srun: error: |^slurmstepd(-[^ :]*)?: error: ")


def render(profile, job_id, job_name, files, job_id_variable):
    """The batch script; ``job_id_variable`` is where the scheduler puts the batch job's
    id in its environment (SLURM_JOB_ID, PBS_JOBID)."""
    if not re.fullmatch(r"[A-Z_]+", job_id_variable):
        raise ValueError(f"not an environment variable name: {job_id_variable!r}")
    return _TEMPLATE.substitute(
        job_id=int(job_id),
        attempt=int(files.attempt),
        job_name=shlex.quote(job_name),
        job_dir=shlex.quote(files.job_dir),
        exit_file=shlex.quote(files.exit_file),
        started_file=shlex.quote(files.started_file),
        job_id_variable=job_id_variable,
        setup="\n".join(profile.setup),
        launch=shlex.join(launcher(profile) + agent_command(profile, job_id, files)),
    )
