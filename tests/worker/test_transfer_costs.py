"""Which way a batch is moved: the cheapest by the costs measured on its cluster, never by
size alone, with the reason in the log."""
import logging

import pytest

from raycrafter_worker import config as worker_config
from raycrafter_worker.staging import Stager
from raycrafter_worker.transfer_costs import CostProfile, WayCost

MIB = 1024 * 1024
FRAMES = (500, 500 * 200 * 1024)  # 500 frames of 200 KiB

# Measured by the probe on this machine's stand-in cluster (loopback, quiet): GridFTP's
# start is its ssh login, server and credential; SSH moves about 250 MiB/s.
NEAR = CostProfile({
    ("stream", "down"): WayCost(0.02, 0.0004, 1 / (250 * MIB)),
    ("gridftp", "down"): WayCost(0.75, 0.0005, 1 / (700 * MIB)),
    ("sftp", "down"): WayCost(0.01, 0.0027, 1 / (150 * MIB)),
}, "a near cluster")
# A cluster 40 ms away: every SSH round trip costs 40 ms, and an SSH channel's 16 MiB
# window moves at most 400 MiB/s over it, which GridFTP's own connections do not share.
FAR = CostProfile({
    ("stream", "down"): WayCost(0.12, 0.0004, 1 / (40 * MIB)),
    ("gridftp", "down"): WayCost(1.5, 0.0005, 1 / (600 * MIB)),
    ("sftp", "down"): WayCost(0.12, 0.08, 1 / (40 * MIB)),
}, "a far cluster")


def test_the_same_frames_go_another_way_from_another_cluster():
    ways = ("stream", "gridftp", "sftp")
    assert NEAR.choose("down", dict.fromkeys(ways, FRAMES), "frames").way == "stream"
    assert FAR.choose("down", dict.fromkeys(ways, FRAMES), "frames").way == "gridftp"


def test_a_few_files_go_the_way_that_starts_soonest_and_many_the_cheapest_per_file():
    ways = ("gridftp", "sftp")  # a site that permits no streams
    for costs in (NEAR, FAR):
        assert costs.choose("down", dict.fromkeys(ways, FRAMES), "frames").way == "gridftp"
        assert costs.choose("down", dict.fromkeys(ways, (3, 3 * 200 * 1024)),
                            "a few frames").way == "sftp"


def test_the_reason_gives_every_estimate_and_where_the_costs_come_from():
    # Measured just now: the reason says how long ago.
    far = CostProfile(FAR.ways, FAR.source)
    choice = far.choose("down", dict.fromkeys(("stream", "gridftp", "sftp"), FRAMES),
                        "download of 500 file(s) on far")
    assert choice.reason.startswith(
        "download of 500 file(s) on far: gridftp, about 1.91 s for 500 file(s) of 97.7 MiB "
        "(against stream 2.76 s, sftp 42.56 s); costs a far cluster 0 s ago")


def test_transfers_that_take_longer_than_foreseen_move_the_choice():
    costs = CostProfile({("stream", "down"): WayCost(0.02, 0.0004, 1 / (250 * MIB)),
                         ("gridftp", "down"): WayCost(0.75, 0.0005, 1 / (700 * MIB))},
                        "probed")
    candidates = dict.fromkeys(("stream", "gridftp"), (1, 100 * MIB))
    assert costs.choose("down", candidates, "bulk").way == "stream"
    for _ in range(3):  # the SSH connection turned out three times slower than probed
        costs.learn("stream", "down", 1, 100 * MIB, 1.26)
    choice = costs.choose("down", candidates, "bulk")
    assert choice.way == "gridftp" and "corrected by 3 transfer(s) since" in choice.reason


def test_a_way_that_could_not_be_measured_is_named_and_not_chosen():
    costs = CostProfile({("sftp", "down"): WayCost(0.01, 0.003, 1 / (150 * MIB))}, "probed")
    choice = costs.choose("down", dict.fromkeys(("stream", "sftp"), FRAMES), "frames")
    assert choice.way == "sftp" and "(stream not available)" in choice.reason
    choice = CostProfile({}, "probed").choose("down", dict.fromkeys(("stream", "sftp"), FRAMES),
                                              "frames")
    assert choice.way == "sftp" and "as no way to move it could be measured" in choice.reason


class Recorder:
    """A way that only records what it was given (the cost model is under test here)."""

    def __init__(self, name, moved):
        self.name, self.moved = name, moved

    def download(self, pairs):
        self.moved.append((self.name, len(pairs)))


@pytest.mark.parametrize("costs, expected", [(NEAR, "stream"), (FAR, "gridftp")])
def test_the_stager_moves_a_batch_the_way_its_clusters_costs_choose_and_logs_why(
        tmp_path, caplog, costs, expected):
    for name in ("key", "known_hosts"):
        (tmp_path / name).write_text("x")
    profile = worker_config.parse_profile("stand-in", {
        "login_host": "127.0.0.1", "user": "render", "key_file": str(tmp_path / "key"),
        "known_hosts_file": str(tmp_path / "known_hosts"), "scheduler": "slurm",
        "launcher": "srun", "scratch": "/scratch", "nodeagent": "/opt/agent",
        "agent_api_url": "https://localhost", "gridftp_host": "raycrafter-stand-in"})
    stager = Stager(profile, transport=None, workdir=str(tmp_path))
    moved = []
    stager.ways = {name: Recorder(name, moved) for name in ("stream", "gridftp", "sftp")}
    stager.set_costs(costs)
    pairs = [(f"/scratch/frame_{n:05d}.png", str(tmp_path / f"{n}.png")) for n in range(500)]
    with caplog.at_level(logging.INFO, logger="raycrafter_worker.staging"):
        stager.download(pairs, FRAMES[1])
    assert moved == [(expected, 500)]
    assert f"download of 500 file(s) on stand-in: {expected}, about" in caplog.text


def test_a_starting_worker_measures_its_clusters_one_after_another_until_stopped():
    import threading

    from raycrafter_worker.__main__ import measure_transfers_in_turn

    stop = threading.Event()
    measuring, measured = [], []

    class Cluster:
        def __init__(self, name):
            self.name = name

        def measure_transfers(self):
            measuring.append(self.name)
            assert len(measuring) == 1, f"measured at once: {measuring}"
            measured.append(self.name)
            if self.name == "b":
                stop.set()
            measuring.remove(self.name)

    measure_transfers_in_turn([Cluster(name) for name in "abc"], stop)
    assert measured == ["a", "b"]
