"""Claim latency with 1,000,000 frames in the database against 1,000 (not a test).

    python bench/claim_scaling.py [--claims 200]

A throwaway PostgreSQL (tests/support/postgres.py), migrated by this version. The claims
are ``leases.claim`` called in this process (no HTTP in front, so the figure is the
database's work); each asks for as many frames as the contract allows and so gets a chunk
sized from the job's render times. Between two claims, outside the clock, the chunk goes
back to pending, so every claim meets the same job. The job claimed from is half
rendered (every other frame done at 1 s, so the chunk sizing reads real render times).

1. baseline: the database holds one job of 1,000 frames;
2. history: 999 more jobs of 1,000 rendered frames, 1,000,000 frames in all;
3. one big job: the job claimed from holds 1,000,000 frames itself.

The goal is at most 2 times the baseline's median for both large cases.
"""
import argparse
import statistics
import tempfile
import time

from raycrafter_api import config as config_module, timeutil
from raycrafter_api.database import db, migrations
from raycrafter_api.database.models import Job, User
from raycrafter_api.frames import leases
from raycrafter_contract.naming import MAX_CLAIM_FRAMES

from support.postgres import ThrowawayPostgres

GOAL = 2.0


def new_job(owner, frames, state="running"):
    now = timeutil.now()
    return Job.create(owner=owner, name="bench", state=state, scene_kind="pov",
                      scene_file="scene.pov", scene_size=1, scene_checksum="0" * 64,
                      renderer="povray", options="{}", frame_first=1, frame_last=frames,
                      frame_step=1, anim_initial_frame=1, anim_final_frame=frames,
                      anim_initial_clock=0.0, anim_final_clock=1.0, anim_cyclic=False,
                      width=8, height=8, cluster="default", created_at=now, updated_at=now,
                      state_changed_at=now)


def add_frames(job_id, frames, every_other_done):
    """Insert the job's frames in one statement; done ones carry a render time of 1 s."""
    done = "mod(n, 2) = 0" if every_other_done else "true"
    db.database.execute_sql(
        "INSERT INTO frame (job_id, number, state, attempts, render_seconds, updated_at) "
        f"SELECT %s, n, CASE WHEN {done} THEN 'done' ELSE 'pending' END, 0, "
        f"CASE WHEN {done} THEN 1.0 END, now() FROM generate_series(1, %s) AS n",
        (job_id, frames))


def history(owner, jobs, frames):
    """Finished jobs (every frame done), as a database that has served a while holds."""
    for _ in range(jobs):
        add_frames(new_job(owner, frames, state="done").id, frames, every_other_done=False)


def claim_latencies(job_id, config, claims):
    """Seconds per claim; each chunk is handed back (untimed) before the next claim."""
    seconds = []
    for index in range(claims):
        started = time.perf_counter()
        lease = leases.claim(job_id, f"n{index}", config, max_frames=MAX_CLAIM_FRAMES)
        seconds.append(time.perf_counter() - started)
        if lease.status != "leased":
            raise RuntimeError(f"unexpected claim answer {lease}")
        # By the job's leased frames (an index), not by lease id (a scan of every frame,
        # which with a million frames beside took 70 ms and left the next claim cold).
        db.database.execute_sql(
            "UPDATE frame SET state = 'pending', lease_id = NULL, lease_holder = NULL, "
            "lease_expires_at = NULL WHERE job_id = %s AND state = 'leased'", (job_id,))
    return seconds


def settle():
    """What autovacuum does to a table after a bulk load, done now, so plans are real."""
    db.database.execute_sql("VACUUM ANALYZE frame")
    db.database.execute_sql("VACUUM ANALYZE job")


def row(label, frames_in_db, seconds, baseline):
    median = statistics.median(seconds)
    p95 = statistics.quantiles(seconds, n=20)[-1]
    ratio = "" if baseline is None else f"{median / baseline:5.2f}x  (goal <= {GOAL:.0f}x)"
    print(f"{label:<34} {frames_in_db:>10,}  {median * 1000:8.2f}  {p95 * 1000:8.2f}  {ratio}",
          flush=True)
    return median


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--claims", type=int, default=200)
    args = parser.parse_args()
    postgres = ThrowawayPostgres().start()
    try:
        db.bind(postgres.create_database("bench"))
        with tempfile.TemporaryDirectory(prefix="rc-bench-") as tmp:
            config = config_module.Config(database_url="", data_dir=tmp,
                                          max_frames_per_job=1_000_000)
            with db.connection():
                migrations.migrate_to()
                owner = User.create(name="bench", role="user", created_at=timeutil.now())
                small = new_job(owner, 1_000)
                add_frames(small.id, 1_000, every_other_done=True)
                settle()
                print(f"{'case':<34} {'frames':>10}  {'median ms':>9} {'p95 ms':>9}  ratio")
                baseline = row("1 job of 1,000 frames", 1_000,
                               claim_latencies(small.id, config, args.claims), None)
                history(owner, 999, 1_000)
                settle()
                row("same job, 999 finished jobs beside", 1_000_000,
                    claim_latencies(small.id, config, args.claims), baseline)
                big = new_job(owner, 1_000_000)
                add_frames(big.id, 1_000_000, every_other_done=True)
                settle()
                row("1 job of 1,000,000 frames", 2_000_000,
                    claim_latencies(big.id, config, args.claims), baseline)
        db.dispose()
    finally:
        postgres.stop()


if __name__ == "__main__":
    main()
