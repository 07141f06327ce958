"""The node agent's command line in the batch script, read back by the agent's own parser:
the profile's name, whether it allows rendering unconfined, and its renderer limits."""
from raycrafter_nodeagent.config import build_parser

from raycrafter_worker import config as worker_config
from raycrafter_worker.batch_script import JobFiles, agent_command


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
