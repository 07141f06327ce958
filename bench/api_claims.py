"""Claims + completes per second with 8, 32 and 128 concurrent agents (not a test).

    python bench/api_claims.py [--database-url postgresql://...] [--seconds 10]

The URL may also come from RAYCRAFTER_BENCH_DATABASE_URL; without one a throwaway
PostgreSQL is started (tests/support/postgres.py). The database must be empty or already
migrated by this version; the bench adds users and jobs to it. The API runs under waitress
(16 threads) in a subprocess; next to each figure is the same stack (bottle on waitress,
16 threads) answering a trivial JSON route, counted the same way (two requests per
claim+complete): the ceiling the API could reach. The client is Python threads on the
same machine, so both figures include its cost.
"""
import argparse
import concurrent.futures
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import time

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY / "tests"))

import requests  # noqa: E402

from support.api_server import ApiServer, create_user, ensure_worker_token, write_config  # noqa: E402,E501
from support.api_testing import PNG, Client, job_fields, scene_upload, sha256  # noqa: E402
from support.polling import wait_for  # noqa: E402
from support.postgres import ThrowawayPostgres, free_port  # noqa: E402

TRIVIAL_APP = """
import bottle, json, sys, waitress
app = bottle.Bottle()
@app.post("/ping")
def ping():
    bottle.response.content_type = "application/json"
    return json.dumps({"status": "ok"})
waitress.serve(app, listen="127.0.0.1:" + sys.argv[1], threads=16, _quiet=True)
"""
FRAMES_PER_JOB = 99_999


def run_agents(count, seconds, one_round):
    """Run ``one_round(session)`` in ``count`` threads for ``seconds``; rounds per second."""
    stop = threading.Event()
    rounds = [0] * count

    def agent(index):
        with requests.Session() as session:
            while not stop.is_set():
                one_round(session, index)
                rounds[index] += 1

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        futures = [pool.submit(agent, i) for i in range(count)]
        time.sleep(seconds)
        stop.set()
        for future in futures:
            future.result()
    return sum(rounds) / seconds


def bench_api(config, concurrency, seconds):
    with ApiServer(config, threads=16) as api:
        user = Client(api.url, create_user(config, f"bench{concurrency}"))
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
            lease = session.post(f"{base}/claim", json={"holder": f"n{index}"},
                                 headers=headers).json()
            if lease.get("status") != "leased":
                raise RuntimeError(f"unexpected claim answer {lease}")
            session.post(f"{base}/frames/{lease['frame']}/complete", headers=headers,
                         json={"lease_id": lease["lease"]["id"], "render_seconds": 0.1,
                               "checksum": sha256(PNG), "size": len(PNG)}).raise_for_status()
        return run_agents(concurrency, seconds, claim_and_complete)


def bench_trivial(concurrency, seconds):
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

        def two_requests(session, index):
            session.post(url, json={"holder": f"n{index}"}).raise_for_status()
            session.post(url, json={"lease_id": "x"}).raise_for_status()
        return run_agents(concurrency, seconds, two_requests)
    finally:
        server.terminate()
        server.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("RAYCRAFTER_BENCH_DATABASE_URL"))
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    postgres = None
    url = args.database_url
    if not url:
        postgres = ThrowawayPostgres().start()
        url = postgres.create_database("bench")
    try:
        with tempfile.TemporaryDirectory(prefix="rc-bench-") as tmp:
            config = write_config(os.path.join(tmp, "api.toml"), database_url=url,
                                  data_dir=os.path.join(tmp, "data"),
                                  max_frames_per_job=FRAMES_PER_JOB)
            print(f"{'agents':>6}  {'claim+complete/s':>17}  {'trivial pairs/s':>16}  ratio")
            for concurrency in (8, 32, 128):
                api_rate = bench_api(config, concurrency, args.seconds)
                ceiling = bench_trivial(concurrency, args.seconds)
                print(f"{concurrency:>6}  {api_rate:>17.1f}  {ceiling:>16.1f}  "
                      f"{api_rate / ceiling:5.0%}", flush=True)
    finally:
        if postgres:
            postgres.stop()


if __name__ == "__main__":
    main()
