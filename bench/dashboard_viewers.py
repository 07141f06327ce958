"""How many dashboard viewers the API serves while agents render at full speed, and what
the viewers cost the agents (not a test).

    python bench/dashboard_viewers.py [--viewers 0 10 25 50 100] [--agents 32]
                                      [--mode 50/10] [--seconds 20] [--rounds 2]
                                      [--first-visits] [--database-url URL] [--processes N]
                                      [--paging bounded offset]

bench/api_claims.py's machinery: the API as the appliance runs it (its processes of 16
threads each) on a throwaway PostgreSQL unless a URL is given, a job of 99,999 frames
submitted, and ``--agents`` agents claiming and reporting its frames as fast as the API
answers them (``--mode`` as api_claims.py's ``--modes``; 50/10 is how the node agent
works). Beside them, each run has ``--viewers`` dashboards open, polling as
dashboard.js does, every 2 s after the last poll ended: half on the job being rendered
(the job with If-None-Match, its frames written since its last poll page by page, by the
cursor its last poll's first page gave, its events with If-None-Match), half on the
owner's job list (its first 50, If-None-Match).
The viewers start spread over the first interval. ``--paging``: how a job page pages
through a poll, as dashboard.js does now (``bounded``: its later pages bounded by the
cursor of its first and by frame number) or did before (``offset``: by offset, unbounded);
each viewer count runs with each, in turns.

The pages are open already when the run begins: a job page holds the cursor of a poll
just before the run. With ``--first-visits`` each job page opens during the run
instead, and its first round asks for every frame of the job, 200 pages of 500, as a page
opened on it does; that round is timed apart (the median of those that ended), and only
the rounds after it are polls. Per run: the agents' frames per second, the polls
answered, the median and 95th percentile of a poll's time, and how many viewers were
served: those none of whose polls took a whole interval (and whose first visit, if any,
ended within the run); then the job pages' own: their polls that ended within the run,
the median, and how many were served. Each viewer count is run ``--rounds`` times in turn, so load
that drifts meets every count alike. The clients are Python threads on the same machine:
their CPU is taken from the API's.
"""
import argparse
import os
import statistics
import tempfile
import threading
import time

import requests

from api_claims import (SHIPPED, Mode, agent_rounds, bench_config, bench_database,
                        rendering_job, run_agents)

POLL_SECONDS = 2.0  # dashboard.js: POLL_MS
FRAME_PAGE = 500  # dashboard.js: FRAME_PAGE


class Viewer:
    """One open dashboard: its session, the tags it revalidates, the time of each of its
    poll rounds."""

    def __init__(self, job, watches_job, first_visit, paging):
        self.job, self.watches_job, self.paging = job, watches_job, paging
        self.session = requests.Session()
        self.session.verify = job.verify
        self.session.trust_env = False
        self.session.headers.update(job.owner_headers)
        self.tags = {}
        # A page opening on the job asks for every frame; one open already, for what changed.
        self.visiting = watches_job and first_visit
        self.cursor = self.frames(limit=1)["cursor"] if watches_job and not first_visit else None
        self.first_visit = None
        self.rounds = []

    def run(self, stop, delay):
        with self.session:
            stop.wait(delay)
            while not stop.is_set():
                started = time.perf_counter()
                if self.watches_job:
                    self.poll_job(stop)
                else:
                    self.revalidate("/jobs?limit=50")
                if stop.is_set():
                    return  # a round cut off by the end is not counted
                if self.visiting:
                    self.first_visit, self.visiting = time.perf_counter() - started, False
                else:
                    self.rounds.append(time.perf_counter() - started)
                stop.wait(POLL_SECONDS)

    def poll_job(self, stop):
        base = f"/jobs/{self.job.job_id}"
        self.revalidate(base)
        after, self.cursor = self.cursor, None
        start = 0  # an offset, or a frame number (bounded)
        while start is not None and not stop.is_set():
            query = {"limit": FRAME_PAGE, **({"after": after} if after else {})}
            if self.paging == "offset":
                query["offset"] = start
            else:
                query["from_number"] = start
                if self.cursor:
                    query["until"] = self.cursor
            page = self.frames(**query)
            self.cursor = self.cursor or page["cursor"]
            start = page["next_offset" if self.paging == "offset" else "next_number"]
        self.revalidate(f"{base}/events")

    def frames(self, **query):
        return self.get(f"/jobs/{self.job.job_id}/frames", params=query).json()

    def revalidate(self, path):
        known = self.tags.get(path)
        response = self.get(path, headers={"If-None-Match": known} if known else {})
        if response.status_code == 200:
            self.tags[path] = response.headers["ETag"]

    def get(self, path, **kwargs):
        response = self.session.get(f"{self.job.url}{path}", **kwargs)
        if response.status_code not in (200, 304):
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")
        return response

    def served(self):
        return bool(self.rounds) and max(self.rounds) < POLL_SECONDS


def run(config, viewers, agents, mode, seconds, processes, first_visits, paging):
    """One run: the agents' frames/s and the viewers (each a Viewer) that polled."""
    with rendering_job(config, processes, None, f"viewers{viewers}{paging}") as job:
        open_pages = [Viewer(job, index % 2 == 0, first_visits, paging)
                      for index in range(viewers)]
        stop = threading.Event()
        threads = [threading.Thread(target=viewer.run,
                                    args=(stop, POLL_SECONDS * index / max(viewers, 1)))
                   for index, viewer in enumerate(open_pages)]
        for thread in threads:
            thread.start()
        try:
            rate = run_agents(agents, seconds,
                              agent_rounds(job.agent_base, job.agent_headers, mode), job.verify)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        return rate, open_pages


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("RAYCRAFTER_BENCH_DATABASE_URL"))
    parser.add_argument("--viewers", type=int, nargs="+", default=[0, 10, 25, 50, 100])
    parser.add_argument("--agents", type=int, default=32)
    parser.add_argument("--mode", default="50/10")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--processes", type=int, default=SHIPPED["processes"])
    parser.add_argument("--paging", nargs="+", choices=("bounded", "offset"),
                        default=["bounded", "offset"])
    parser.add_argument("--first-visits", action="store_true",
                        help="job pages open during the run, asking for every frame first")
    args = parser.parse_args()
    mode = Mode(args.mode)
    with bench_database(args.database_url) as url, \
            tempfile.TemporaryDirectory(prefix="rc-bench-") as tmp:
        config = bench_config(tmp, url)
        print(f"API: {args.processes} process(es); {args.agents} agents, mode {mode.text}; "
              f"{args.seconds:g} s per run; viewers poll every {POLL_SECONDS:g} s; job pages "
              f"{'open during the run' if args.first_visits else 'open already'}")
        print(f"{'viewers':>7}  {'paging':>7}  {'agents frames/s':>15}  "
              f"{'first visit median s':>20}  {'polls':>6}  {'poll median ms':>14}  "
              f"{'poll p95 ms':>11}  {'served':>6}  {'job page polls':>14}  "
              f"{'job poll median ms':>18}  {'job pages served':>16}")
        for _ in range(args.rounds):
            for viewers, paging in [(v, p) for v in args.viewers for p in args.paging]:
                rate, pages = run(config, viewers, args.agents, mode, args.seconds,
                                  args.processes, args.first_visits, paging)
                rounds = sorted(r for page in pages for r in page.rounds)
                visits = [page.first_visit for page in pages if page.first_visit is not None]
                visit = f"{statistics.median(visits):.2f}" if visits else "-"
                median = f"{statistics.median(rounds) * 1000:.1f}" if rounds else "-"
                p95 = f"{rounds[int(len(rounds) * 0.95) - 1] * 1000:.1f}" if rounds else "-"
                served = sum(page.served() for page in pages)
                # The job pages apart: a poll still paging when the run ends is not
                # counted, so a page that chases the agents shows as few polls.
                job_pages = [page for page in pages if page.watches_job]
                job_rounds = sorted(r for page in job_pages for r in page.rounds)
                job_median = (f"{statistics.median(job_rounds) * 1000:.1f}" if job_rounds
                              else "-")
                job_served = sum(page.served() for page in job_pages)
                print(f"{viewers:>7}  {paging:>7}  {rate:>15.1f}  {visit:>20}  "
                      f"{len(rounds):>6}  {median:>14}  {p95:>11}  {served:>4}/{viewers:<4}  "
                      f"{len(job_rounds):>14}  {job_median:>18}  "
                      f"{job_served:>8}/{len(job_pages):<7}", flush=True)


if __name__ == "__main__":
    main()
