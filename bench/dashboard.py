"""The dashboard's calls against a static file served by the same stack (not a test).

    python bench/dashboard.py [--requests 200] [--database-url URL]

The API runs as a process under waitress (tests/support/api_server.py) on a throwaway
PostgreSQL (tests/support/postgres.py) unless a database URL is given, holding what a busy
group's dashboard meets: 10,000 jobs of one user (each of 10 frames, 100,000 frames beside)
and one job of 10,000 frames, half of them done. Each figure is the median and the 95th
percentile of one client's requests in a row over a kept-alive connection on loopback, so
it is the server's time plus a loopback round trip; the reference is the dashboard's own
stylesheet, a static file served by the same waitress and bottle.

The calls are what a page asks every poll: the job list's first page (a full answer, and a
304 for an unchanged one), the 10,000-frame job (full and 304), its frames changed in the
last seconds (what each poll of a job page asks), a full page of 500 of its frames (the
first visit), its events. The goal: each within 3 times the static file.
"""
import argparse
import statistics
import tempfile
import time
from pathlib import Path

import requests
from raycrafter_api import timeutil
from raycrafter_api.database import db
from raycrafter_api.database.models import Job, User

from support.api_server import ApiServer, create_user, write_config
from support.postgres import ThrowawayPostgres

GOAL = 3.0
JOBS = 10_000
FRAMES_PER_JOB = 10
BIG_JOB_FRAMES = 10_000


def job_rows(owner_id, count, frames):
    now = timeutil.now()
    return [dict(owner=owner_id, name=f"orbit {index}", state="done", scene_kind="pov",
                 scene_file="scene.pov", scene_size=1, scene_checksum="0" * 64,
                 renderer="povray", options="{}", frame_first=1, frame_last=frames,
                 frame_step=1, anim_initial_frame=1, anim_final_frame=frames,
                 anim_initial_clock=0.0, anim_final_clock=1.0, anim_cyclic=False, width=320,
                 height=240, cluster="default", created_at=now, updated_at=now,
                 state_changed_at=now) for index in range(count)]


def fill(database_url, user_name):
    """10,000 finished jobs of FRAMES_PER_JOB frames, then one running job of 10,000
    frames with every other one done; returns the big job's id."""
    db.bind(database_url)
    with db.connection():
        owner = User.get(User.name == user_name).id
        with db.database.atomic():
            for _ in range(JOBS // 1000):
                Job.insert_many(job_rows(owner, 1000, FRAMES_PER_JOB)).execute()
            db.database.execute_sql(
                "INSERT INTO frame (job_id, number, state, attempts, render_seconds, "
                "updated_at) SELECT job.id, n, 'done', 0, 1.0, now() - interval '1 hour' "
                "FROM job, generate_series(1, %s) AS n", (FRAMES_PER_JOB,))
            big = Job.create(**dict(job_rows(owner, 1, BIG_JOB_FRAMES)[0], state="running",
                                    name="the big one")).id
            db.database.execute_sql(
                "INSERT INTO frame (job_id, number, state, attempts, render_seconds, "
                "updated_at) SELECT %s, n, CASE WHEN mod(n, 2) = 0 THEN 'done' ELSE "
                "'pending' END, 0, 1.0, now() - interval '1 hour' "
                "FROM generate_series(1, %s) AS n", (big, BIG_JOB_FRAMES))
        db.database.execute_sql("VACUUM ANALYZE")
    db.dispose()
    return big


def timed(session, url, requests_count, headers=None, expect=200):
    seconds = []
    for _ in range(requests_count):
        started = time.perf_counter()
        response = session.get(url, headers=headers or {})
        response.content  # noqa: B018 (the body is part of the answer's time)
        seconds.append(time.perf_counter() - started)
        if response.status_code != expect:
            raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")
    seconds.sort()
    return statistics.median(seconds), seconds[int(len(seconds) * 0.95) - 1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    postgres = None if args.database_url else ThrowawayPostgres().start()
    try:
        url = args.database_url or postgres.create_database("dashboard_bench")
        with tempfile.TemporaryDirectory() as directory:
            config = write_config(Path(directory) / "api.toml", database_url=url,
                                  data_dir=str(Path(directory) / "data"))
            with ApiServer(config) as server:
                token = create_user(config, "alice")
                big = fill(url, "alice")
                run(server, token, big, args.requests)
    finally:
        if postgres:
            postgres.stop()


def run(server, token, big, count):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    api = server.url
    recent = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 10))
    list_url = f"{api}/jobs?owner=alice&limit=50"
    job_url = f"{api}/jobs/{big}"
    tags = {url: session.get(url).headers["ETag"] for url in (list_url, job_url)}
    calls = [
        ("static file (dashboard.css)", f"{server.base}/dashboard/dashboard.css", None, 200),
        ("who am I (a token checked, no more)", f"{api}/me", None, 200),
        ("job list, first 50 of 10,000", list_url, None, 200),
        ("job list, unchanged (304)", list_url, {"If-None-Match": tags[list_url]}, 304),
        ("job of 10,000 frames", job_url, None, 200),
        ("job of 10,000 frames, unchanged (304)", job_url, {"If-None-Match": tags[job_url]},
         304),
        ("its frames changed in the last 10 s", f"{job_url}/frames?changed_since={recent}",
         None, 200),
        ("a page of 500 of its frames", f"{job_url}/frames?limit=500&offset=5000", None, 200),
        ("its events", f"{job_url}/events?limit=500", None, 200),
    ]
    for _, url, headers, expect in calls:  # warm the pool, the caches and the planner
        timed(session, url, 10, headers, expect)
    results = [(name, *timed(session, url, count, headers, expect))
               for name, url, headers, expect in calls]
    static = results[0][1]
    print(f"{count} requests each, one client, kept alive; median and 95th percentile; "
          f"the goal: within {GOAL:g} x the static file, {static * GOAL * 1000:.2f} ms")
    print(f"{'call':<40} {'median ms':>10} {'p95 ms':>8} {'x static':>9} {'goal ms':>8}  met")
    for name, median, p95 in results:
        print(f"{name:<40} {median * 1000:>10.2f} {p95 * 1000:>8.2f} {median / static:>9.2f} "
              f"{static * GOAL * 1000:>8.2f}  {'yes' if median <= static * GOAL else 'no'}")
    worst = max(median / static for _, median, _ in results)
    print(f"worst: {worst:.2f} x the static file (goal: within {GOAL:g} x)")


if __name__ == "__main__":
    main()
