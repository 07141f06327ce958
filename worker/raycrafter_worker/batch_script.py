"""The batch script a submission runs, from one template with every value shell-quoted.

Values that come from users or the API (the job's name, paths built from ids) are
quoted with shlex.quote; only the profile's ``setup`` lines are inserted as they are,
because they are shell by design and come from the operator's configuration.

The script records its exit status in ``logs/batch-ATTEMPT.exit`` (also when it is
stopped with SIGTERM at walltime), because without accounting a job that has left the
queue is otherwise indistinguishable from one that was lost.
"""
import dataclasses
import shlex
import string

from raycrafter_contract.naming import (AGENT_TOKEN_FILE, JOB_FRAMES_DIR, JOB_INPUT_DIR,
                                        JOB_LOGS_DIR, LOG_CREDENTIAL_FILE, frame_file_name)

_TEMPLATE = string.Template("""\
#!/bin/bash
# Raycrafter batch job: job $job_id, attempt $attempt (written by raycrafter-worker).
export RAYCRAFTER_JOB_NAME=$job_name
job_dir=$job_dir
exit_file=$exit_file
agent=
record_exit() {
    status=$$?
    printf '%s\\n' "$$status" > "$$exit_file.tmp" && mv -f "$$exit_file.tmp" "$$exit_file"
}
trap record_exit EXIT
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
    def script(self):
        return f"{self.logs_dir}/batch-{self.attempt}.sh"

    @property
    def stdout(self):
        return f"{self.logs_dir}/batch-{self.attempt}.out"

    @property
    def stderr(self):
        return f"{self.logs_dir}/batch-{self.attempt}.err"

    @property
    def exit_file(self):
        return exit_file(self.job_dir, self.attempt)

    @property
    def submission_marker(self):
        """Created by the one command that hands this attempt to the scheduler (cluster.py),
        with the scheduler's answer inside once it has one."""
        return f"{self.logs_dir}/batch-{self.attempt}.submitted"

    def frame(self, number):
        return f"{self.frames_dir}/{frame_file_name(number)}"


def exit_file(job_dir, attempt):
    return f"{job_dir}/{JOB_LOGS_DIR}/batch-{int(attempt)}.exit"


def agent_command(profile, job_id, files):
    """The node agent's command line (docs/nodeagent.md); the token stays in its file. The
    profile's name goes along, for the reasons the agent gives (allow_unconfined)."""
    args = [profile.nodeagent, "--api-url", profile.agent_api_url, "--job-id", str(job_id),
            "--job-dir", files.job_dir, "--token-file", files.token_file,
            "--cluster", profile.name]
    if profile.allow_unconfined:
        args.append("--allow-unconfined")
    for name, value in sorted(profile.renderer_limits.items()):
        args += ["--" + name.replace("_", "-"), str(value)]
    if profile.agent_ca_file:
        args += ["--ca-file", profile.agent_ca_file]
    if profile.log_host:
        args += ["--log-host", profile.log_host, "--log-port", str(profile.log_port)]
        if profile.log_tls:
            args.append("--log-tls")
            if profile.log_ca_file:
                args += ["--log-ca-file", profile.log_ca_file]
    return args


def launcher(profile):
    """One agent per node: aprun on Cray systems, srun under Slurm."""
    n = str(profile.nodes)
    if profile.launcher == "aprun":
        return ["aprun", "-n", n, "-N", "1"]
    return ["srun", f"--nodes={n}", f"--ntasks={n}", "--ntasks-per-node=1"]


def render(profile, job_id, job_name, files):
    return _TEMPLATE.substitute(
        job_id=int(job_id),
        attempt=int(files.attempt),
        job_name=shlex.quote(job_name),
        job_dir=shlex.quote(files.job_dir),
        exit_file=shlex.quote(files.exit_file),
        setup="\n".join(profile.setup),
        launch=shlex.join(launcher(profile) + agent_command(profile, job_id, files)),
    )
