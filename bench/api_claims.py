"""Frames leased and completed per second with 8, 32 and 128 agents (not a test).

    python bench/api_claims.py [--database-url postgresql://...] [--seconds 10]
                               [--modes 1 50 50/10] [--processes N] [--through-nginx]

The URL may also come from RAYCRAFTER_BENCH_DATABASE_URL; without one a throwaway
PostgreSQL is started (tests/support/postgres.py). The database must be empty or already
migrated by this version; the bench adds users and jobs to it. The API runs as the
appliance runs it (``raycrafter-api``: ``--processes`` processes sharing the port, the
shipped default unless given, 16 threads each) in subprocesses; next to each figure is the
same stack (bottle on waitress, one process of 16 threads) answering a trivial JSON route,
counted the same way: the ceiling the API could reach. The client is Python threads on the
same machine, so both figures include its cost.

``--modes`` lists how the agents work, each for 8, 32 and 128 agents:
- ``1``: a claim per frame, then its completion (as before chunks);
- ``M``: each claim asks for up to M frames (a chunk, as many as the API's chunk sizing
  gives), then completes each of them in a call of its own (an agent of protocol 1);
- ``M/B``: the same chunks, their frames reported B at a time (protocol 2), each report
  after a heartbeat through its first frame, the question the agent asks before it places
  frames. The node agent reports what finished since its last report, at most once a
  second: with the frames of 0.1 s the bench reports, B is 10.
The ceiling answers one request per claim plus one per frame, as the trivial route always
has; for ``M/B`` the trivial route is also timed answering the same calls as the API
(``same calls``). The goals: at least 50 % of the ceiling, and 1,000 frames per second
with chunks.

``--through-nginx`` puts the appliance's nginx (its Salt template rendered, TLS, the
sender check before every body) in front of the API and of the trivial route alike (which
answers the sender check as trivially); ``--without-sender-check`` leaves that check out,
to tell what it costs.
"""
import argparse
import concurrent.futures
import contextlib
import dataclasses
import math
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time

import requests
import yaml
from raycrafter_api.config import Config

from support.api_server import ApiServer, create_user, ensure_worker_token, write_config
from support.api_testing import PNG, Client, job_fields, scene_upload, sha256
from support.nginx_front import NginxFront
from support.polling import wait_for
from support.postgres import ThrowawayPostgres, free_port
from support.salt_tree import REPOSITORY

TRIVIAL_APP = """
import bottle, json, logging, sys, waitress
# Its queue-depth warnings would flood the table (the API's go to its log file).
logging.getLogger("waitress").setLevel(logging.ERROR)
app = bottle.Bottle()
@app.post("/api/v1/ping")
def ping():
    bottle.response.content_type = "application/json"
    return json.dumps({"status": "ok"})
# What nginx asks before it reads a body (the API's sender check), answered as trivially.
@app.get("/api/v1/sender-check")
def sender_check():
    bottle.response.status = 204
    return ""
waitress.serve(app, listen="127.0.0.1:" + sys.argv[1], threads=16, _quiet=True)
"""
FRAMES_PER_JOB = 99_999
# The API's cap on a chunk (its default): what a claim gets here, since the bench reports
# every frame rendered in 0.1 s.
MAX_CHUNK_FRAMES = Config.__dataclass_fields__["max_chunk_frames"].default
SHIPPED = yaml.safe_load((REPOSITORY / "salt" / "api" / "defaults.yaml").read_text())
THREADS = 16


class Mode:
    """``M`` or ``M/B`` (see above)."""

    def __init__(self, text):
        self.text = text
        chunk, _, batch = text.partition("/")
        self.max_frames = int(chunk)
        self.batch = int(batch) if batch else None
        self.chunk = min(self.max_frames, MAX_CHUNK_FRAMES)

    def calls_per_chunk(self):
        """What an agent sends the API for one chunk."""
        if self.batch is None:
            return 1 + self.chunk
        return 1 + 2 * math.ceil(self.chunk / self.batch)


def run_agents(count, seconds, one_round, verify):
    """Run ``one_round(session, index)`` over and over in ``count`` threads for
    ``seconds``; it yields the frames completed as it completes them. Frames per second
    completed within the time: a round cut off by the end counts only the frames completed
    before it (a chunk's round is as long as 51 requests)."""
    stop = threading.Event()
    frames = [0] * count

    def agent(index):
        with requests.Session() as session:
            session.verify = verify
            session.trust_env = False  # REQUESTS_CA_BUNDLE would take verify's place
            while not stop.is_set():
                for done in one_round(session, index):
                    if stop.is_set():
                        return
                    frames[index] += done

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        futures = [pool.submit(agent, i) for i in range(count)]
        time.sleep(seconds)
        stop.set()
        for future in futures:
            future.result()
    return sum(frames) / seconds


def agent_rounds(base, headers, mode):
    """One round of an agent: claim a chunk, render nothing, report its frames."""
    def claim_and_report(session, index):
        lease = session.post(f"{base}/claim", json={"holder": f"n{index}",
                                                    "max_frames": mode.max_frames},
                             headers=headers).json()
        if lease.get("status") != "leased":
            raise RuntimeError(f"unexpected claim answer {lease}")
        lease_id = lease["lease"]["id"]
        done = [{"frame": frame, "render_seconds": 0.1, "checksum": sha256(PNG),
                 "size": len(PNG)} for frame in lease["frames"]]
        if mode.batch is None:
            for report in done:
                session.post(f"{base}/frames/{report['frame']}/complete", headers=headers,
                             json=dict(report, lease_id=lease_id)).raise_for_status()
                yield 1
            return
        for start in range(0, len(done), mode.batch):
            batch = done[start:start + mode.batch]
            session.post(f"{base}/frames/{batch[0]['frame']}/heartbeat", headers=headers,
                         json={"lease_id": lease_id}).raise_for_status()
            answer = session.post(f"{base}/reports", headers=headers,
                                  json={"lease_id": lease_id, "done": batch})
            answer.raise_for_status()
            outcomes = answer.json()["frames"]
            if any(outcome.get("frame_state") != "done" for outcome in outcomes):
                raise RuntimeError(f"a report was refused: {outcomes}")
            yield len(batch)
    return claim_and_report


@dataclasses.dataclass
class RenderingJob:
    """A submitted job of FRAMES_PER_JOB frames on a running API: where its agents and
    its owner call, and with which headers."""
    url: str
    verify: object
    job_id: int
    owner_headers: dict
    agent_headers: dict

    @property
    def agent_base(self):
        return f"{self.url}/agent/jobs/{self.job_id}"


@contextlib.contextmanager
def rendering_job(config, processes, nginx, label, environment=None):
    """The API run as the appliance runs it, with a job of a new user's submitted for its
    agents to render, while the block runs."""
    with ApiServer(config, threads=THREADS, processes=processes,
                   environment=environment) as api:
        url = nginx.serve(api.port) if nginx else api.url
        verify = nginx.certificate if nginx else True
        owner_token = create_user(config, f"{label}-{secrets.token_hex(3)}")
        user = Client(api.url, owner_token)
        worker = Client(api.url, ensure_worker_token(config))
        job = user.post("/jobs", files=scene_upload(),
                        data=job_fields(frames=f"1-{FRAMES_PER_JOB}")).json()
        worker.post(f"/worker/jobs/{job['id']}/transition", json={"to": "staging"})
        token = worker.post(f"/worker/jobs/{job['id']}/submissions", json={}).json()[
            "agent_token"]
        worker.post(f"/worker/jobs/{job['id']}/transition",
                    json={"to": "submitted", "batch_job_id": "1"})
        yield RenderingJob(url, verify, job["id"], {"Authorization": f"Bearer {owner_token}"},
                           {"Authorization": f"Bearer {token}"})


def bench_api(config, concurrency, seconds, mode, processes, nginx, environment=None):
    label = f"bench{concurrency}-{mode.text.replace('/', '-')}"
    with rendering_job(config, processes, nginx, label, environment) as job:
        return run_agents(concurrency, seconds,
                          agent_rounds(job.agent_base, job.agent_headers, mode), job.verify)


def bench_trivial(concurrency, seconds, chunk, calls_per_chunk, nginx):
    """The trivial route answering ``calls_per_chunk`` requests for each chunk of
    ``chunk`` frames."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", TRIVIAL_APP, str(port)])
    url = f"{nginx.serve(port) if nginx else f'http://127.0.0.1:{port}/api/v1'}/ping"
    verify = nginx.certificate if nginx else True
    # Every request carries a token, as the agents' do (nginx keys its limits by it).
    headers = {"Authorization": "Bearer " + "t" * 43}

    def reachable():
        try:
            with requests.Session() as session:
                session.trust_env = False
                return session.post(url, timeout=1, verify=verify, headers=headers).ok
        except requests.ConnectionError:
            return False
    try:
        wait_for(reachable, timeout=20, message="the trivial server")

        def claim_and_reports(session, index):
            session.post(url, json={"holder": f"n{index}"}, headers=headers).raise_for_status()
            calls = calls_per_chunk - 1
            for call in range(calls):
                session.post(url, json={"lease_id": "x"}, headers=headers).raise_for_status()
                yield chunk * (call + 1) // calls - chunk * call // calls
        return run_agents(concurrency, seconds, claim_and_reports, verify)
    finally:
        server.terminate()
        server.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("RAYCRAFTER_BENCH_DATABASE_URL"))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--modes", nargs="+", default=["1", str(MAX_CHUNK_FRAMES),
                                                       f"{MAX_CHUNK_FRAMES}/10"])
    parser.add_argument("--processes", type=int, default=SHIPPED["processes"])
    parser.add_argument("--agents", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument("--through-nginx", action="store_true")
    parser.add_argument("--without-sender-check", action="store_true",
                        help="through nginx, without its sender check (what it costs)")
    args = parser.parse_args()
    with bench_database(args.database_url) as url:
        with tempfile.TemporaryDirectory(prefix="rc-bench-") as tmp:
            # One token serves every agent here: its rate is not what is measured.
            nginx = NginxFront(sender_check=not args.without_sender_check,
                               limits={"requests_per_token": 1_000_000,
                                       "burst_per_token": 1_000_000}) \
                if args.through_nginx else None
            config = bench_config(tmp, url)
            print(f"API: {args.processes} process(es) of {THREADS} threads"
                  f"{', behind nginx' if nginx else ''}"
                  f"{' without its sender check' if args.without_sender_check else ''}")
            print(f"{'mode':>6}  {'agents':>6}  {'API frames/s':>12}  {'ceiling frames/s':>16}"
                  f"  ratio  {'same calls frames/s':>19}")
            try:
                for mode in map(Mode, args.modes):
                    for concurrency in args.agents:
                        api_rate = bench_api(config, concurrency, args.seconds, mode,
                                             args.processes, nginx)
                        ceiling = bench_trivial(concurrency, args.seconds, mode.chunk,
                                                1 + mode.chunk, nginx)
                        same = (bench_trivial(concurrency, args.seconds, mode.chunk,
                                              mode.calls_per_chunk(), nginx)
                                if mode.batch else None)
                        print(f"{mode.text:>6}  {concurrency:>6}  {api_rate:>12.1f}  "
                              f"{ceiling:>16.1f}  {api_rate / ceiling:5.0%}  "
                              f"{f'{same:.1f}' if same else '':>19}", flush=True)
            finally:
                if nginx:
                    nginx.close()


def bench_config(directory, database_url):
    """The API's configuration file in ``directory``, taking jobs of FRAMES_PER_JOB
    frames."""
    return write_config(os.path.join(directory, "api.toml"), database_url=database_url,
                        data_dir=os.path.join(directory, "data"),
                        max_frames_per_job=FRAMES_PER_JOB)


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
