"""Frames leased and completed per second with 8, 32 and 128 agents (not a test).

    python bench/api_claims.py [--database-url postgresql://...] [--seconds 10]
                               [--max-frames 1 50]

The URL may also come from RAYCRAFTER_BENCH_DATABASE_URL; without one a throwaway
PostgreSQL is started (tests/support/postgres.py). The database must be empty or already
migrated by this version; the bench adds users and jobs to it. The API runs under waitress
(16 threads) in a subprocess; next to each figure is the same stack (bottle on waitress,
16 threads) answering a trivial JSON route, counted the same way (two requests per
claim+complete): the ceiling the API could reach. The client is Python threads on the
same machine, so both figures include its cost.

``--max-frames`` lists the modes: 1 is a claim per frame (as before chunks); N asks each
claim for up to N frames (a chunk, as many as the API's chunk sizing gives) and completes
each of them, and the trivial route then answers one request per chunk plus one per frame
of it. The goals: at least 50 % of the ceiling, and 1,000 frames per second with chunks.
"""
import argparse
import concurrent.futures
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time

import requests
from raycrafter_api.config import Config

from support.api_server import ApiServer, create_user, ensure_worker_token, write_config
from support.api_testing import PNG, Client, job_fields, scene_upload, sha256
from support.polling import wait_for
from support.postgres import ThrowawayPostgres, free_port

TRIVIAL_APP = """
import bottle, json, logging, sys, waitress
# Its queue-depth warnings would flood the table (the API's go to its log file).
logging.getLogger("waitress").setLevel(logging.ERROR)
app = bottle.Bottle()
@app.post("/ping")
def ping():
    bottle.response.content_type = "application/json"
    return json.dumps({"status": "ok"})
waitress.serve(app, listen="127.0.0.1:" + sys.argv[1], threads=16, _quiet=True)
"""
FRAMES_PER_JOB = 99_999
# The API's cap on a chunk (its default): what a claim gets here, since the bench reports
# every frame rendered in 0.1 s.
MAX_CHUNK_FRAMES = Config.__dataclass_fields__["max_chunk_frames"].default


def run_agents(count, seconds, one_round):
    """Run ``one_round(session, index)`` over and over in ``count`` threads for
    ``seconds``; it yields once per frame completed. Frames per second completed within
    the time: a round cut off by the end counts only the frames completed before it (a
    chunk's round is as long as 51 requests)."""
    stop = threading.Event()
    frames = [0] * count

    def agent(index):
        with requests.Session() as session:
            while not stop.is_set():
                for _ in one_round(session, index):
                    if stop.is_set():
                        return
                    frames[index] += 1

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        futures = [pool.submit(agent, i) for i in range(count)]
        time.sleep(seconds)
        stop.set()
        for future in futures:
            future.result()
    return sum(frames) / seconds


def bench_api(config, concurrency, seconds, max_frames, environment=None):
    with ApiServer(config, threads=16, environment=environment) as api:
        user = Client(api.url, create_user(config, f"bench{concurrency}-{max_frames}-"
                                                   f"{secrets.token_hex(3)}"))
        worker = Client(api.url, ensure_worker_token(config))
        job = user.post("/jobs", files=scene_upload(),
                        data=job_fields(frames=f"1-{FRAMES_PER_JOB}")).json()
        worker.post(f"/worker/jobs/{job['id']}/transition", json={"to": "staging"})
        token = worker.post(f"/worker/jobs/{job['id']}/submissions", json={}).json()[
            "agent_token"]
        worker.post(f"/worker/jobs/{job['id']}/transition",
                    json={"to": "submitted", "batch_job_id": "1"})
        headers = {"Authorization": f"Bearer {token}"}
        base = f"{api.url}/agent/jobs/{job['id']}"

        def claim_and_complete(session, index):
            lease = session.post(f"{base}/claim", json={"holder": f"n{index}",
                                                        "max_frames": max_frames},
                                 headers=headers).json()
            if lease.get("status") != "leased":
                raise RuntimeError(f"unexpected claim answer {lease}")
            for frame in lease["frames"]:
                session.post(f"{base}/frames/{frame}/complete", headers=headers,
                             json={"lease_id": lease["lease"]["id"], "render_seconds": 0.1,
                                   "checksum": sha256(PNG), "size": len(PNG)}
                             ).raise_for_status()
                yield frame
        return run_agents(concurrency, seconds, claim_and_complete)


def bench_trivial(concurrency, seconds, chunk):
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", TRIVIAL_APP, str(port)])
    url = f"http://127.0.0.1:{port}/ping"

    def reachable():
        try:
            return requests.post(url, timeout=1).ok
        except requests.ConnectionError:
            return False
    try:
        wait_for(reachable, timeout=20, message="the trivial server")

        def claim_and_completes(session, index):
            session.post(url, json={"holder": f"n{index}"}).raise_for_status()
            for frame in range(chunk):
                session.post(url, json={"lease_id": "x"}).raise_for_status()
                yield frame
        return run_agents(concurrency, seconds, claim_and_completes)
    finally:
        server.terminate()
        server.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("RAYCRAFTER_BENCH_DATABASE_URL"))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--max-frames", type=int, nargs="+", default=[1, MAX_CHUNK_FRAMES])
    args = parser.parse_args()
    with bench_database(args.database_url) as url, \
            tempfile.TemporaryDirectory(prefix="rc-bench-") as tmp:
        config = write_config(os.path.join(tmp, "api.toml"), database_url=url,
                              data_dir=os.path.join(tmp, "data"),
                              max_frames_per_job=FRAMES_PER_JOB)
        print(f"{'max_frames':>10}  {'agents':>6}  {'API frames/s':>12}  "
              f"{'trivial frames/s':>16}  ratio")
        for max_frames in args.max_frames:
            for concurrency in (8, 32, 128):
                api_rate = bench_api(config, concurrency, args.seconds, max_frames)
                ceiling = bench_trivial(concurrency, args.seconds,
                                        min(max_frames, MAX_CHUNK_FRAMES))
                print(f"{max_frames:>10}  {concurrency:>6}  {api_rate:>12.1f}  "
                      f"{ceiling:>16.1f}  {api_rate / ceiling:5.0%}", flush=True)


@contextlib.contextmanager
def bench_database(url):
    """``url``, or a throwaway PostgreSQL's database while the block runs."""
    if url:
        yield url
        return
    postgres = ThrowawayPostgres().start()
    try:
        yield postgres.create_database("bench")
    finally:
        postgres.stop()


if __name__ == "__main__":
    main()
