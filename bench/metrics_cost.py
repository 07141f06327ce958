"""What the API's metrics cost: frames per second with them on and off, and the time of a
scrape with 10,000 jobs in the database (not a test).

    python bench/metrics_cost.py [--database-url postgresql://...] [--seconds 10]
                                 [--rounds 3] [--agents 32] [--modes 1 50/10]
                                 [--processes N]

On is the API as Salt runs it: a multiprocess directory (``PROMETHEUS_MULTIPROC_DIR``,
each count a write to a memory-mapped file) and the metrics address served. Off is the
same code without either: the counts stay in the process's memory and nobody reads them.
On and off take turns, ``--rounds`` times each, and the medians are compared (goal: on at
most 3 % slower). On a machine other work shares, that comparison is noisier than the
difference; so the bench also times what metrics add to a frame by themselves (the frame
counted, its render time observed, a request timed), in a process each way, and sets it
against what the API could spend: at the rate measured with metrics on, their CPU seconds
per second over the machine's cores, an upper bound on how much slower they make it. The
agents are bench/api_claims.py's. Then 10,000 jobs spread over every
state are written to the database and the metrics address is scraped 20 times: what
Prometheus waits for each scrape (the database's gauges are read at scrape time).
"""
import argparse
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
import time

from api_claims import FRAMES_PER_JOB, SHIPPED, Mode, bench_api, bench_database
from raycrafter_contract.states import JOB_STATES

from raycrafter_api.database import db
from raycrafter_api.database.models import Job, User
from support.api_server import ApiServer, create_user, write_config
from support.metrics_scrape import scrape
from support.postgres import free_port

SCRAPE_JOBS = 10_000


def compare(config_values, tmp, args):
    off = write_config(os.path.join(tmp, "off.toml"), **config_values)
    on = write_config(os.path.join(tmp, "on.toml"), **config_values,
                      metrics_listen=f"127.0.0.1:{free_port()}")
    per_frame = counting_cost(tmp)
    print(f"API: {args.processes} process(es); metrics' CPU: their cost per frame times "
          f"the rate, over {os.cpu_count()} cores")
    print(f"{'mode':>10}  {'agents':>6}  {'off frames/s':>12}  {'on frames/s':>11}  "
          f"slower  metrics' CPU")
    for mode in map(Mode, args.modes):
        rates = {"off": [], "on": []}
        for round_number in range(args.rounds):
            rates["off"].append(bench_api(off, args.agents, args.seconds, mode,
                                          args.processes, None))
            directory = os.path.join(tmp, f"metrics-{mode.max_frames}-{round_number}")
            rates["on"].append(bench_api(on, args.agents, args.seconds, mode, args.processes,
                                         None, {"PROMETHEUS_MULTIPROC_DIR": directory}))
        off_rate, on_rate = (statistics.median(rates[k]) for k in ("off", "on"))
        share = per_frame * on_rate / os.cpu_count()
        print(f"{mode.text:>10}  {args.agents:>6}  {off_rate:>12.1f}  {on_rate:>11.1f}  "
              f"{1 - on_rate / off_rate:6.1%}  {share:9.2%}   (off {_listed(rates['off'])}; "
              f"on {_listed(rates['on'])})", flush=True)


COUNTING = """
import time
from raycrafter_api.metrics import series
timer = series.AGENT_REQUEST_SECONDS.labels("report")
started = time.process_time()
for _ in range(100_000):
    with timer.time():
        series.FRAMES_COMPLETED.inc()
        series.FRAME_RENDER_SECONDS.observe(0.1)
print((time.process_time() - started) / 100_000)
"""


def counting_cost(tmp):
    """CPU seconds the metrics of one frame take, off and on (a multiprocess directory)."""
    costs = {}
    for name, extra in (("off", {}), ("on", {"PROMETHEUS_MULTIPROC_DIR":
                                              os.path.join(tmp, "metrics-counting")})):
        environment = {key: value for key, value in os.environ.items()
                       if key != "PROMETHEUS_MULTIPROC_DIR"}
        costs[name] = float(subprocess.run([sys.executable, "-c", COUNTING],
                                           env={**environment, **extra}, check=True,
                                           capture_output=True, text=True).stdout)
    print(f"metrics per frame (counted, observed, timed): off {costs['off'] * 1e6:.1f} µs, "
          f"on {costs['on'] * 1e6:.1f} µs of CPU")
    return costs["on"]


def _listed(rates):
    return ", ".join(f"{rate:.0f}" for rate in rates)


def scrape_time(config_values, tmp):
    metrics = f"127.0.0.1:{free_port()}"
    config = write_config(os.path.join(tmp, "scrape.toml"), **config_values,
                          metrics_listen=metrics)
    with ApiServer(config, processes=SHIPPED["processes"], environment={
            "PROMETHEUS_MULTIPROC_DIR": os.path.join(tmp, "metrics-scrape")}):
        create_user(config, "scraped")
        _write_jobs(config_values["database_url"], SCRAPE_JOBS)
        url = f"http://{metrics}/metrics"
        scrape(url)
        times = []
        for _ in range(20):
            started = time.perf_counter()
            samples = scrape(url)
            times.append(time.perf_counter() - started)
        jobs = sum(samples.value("raycrafter_jobs", state=state) for state in JOB_STATES)
    print(f"scrape of the API's metrics with {jobs:.0f} jobs: median "
          f"{statistics.median(times) * 1000:.1f} ms, slowest {max(times) * 1000:.1f} ms")


def _write_jobs(url, count):
    db.bind(url)
    now = datetime.datetime.utcnow()
    with db.connection():
        owner = User.get(User.name == "scraped")
        rows = [{"owner": owner.id, "name": f"scraped {n}", "state": JOB_STATES[n % len(JOB_STATES)],
                 "scene_kind": "pov", "scene_file": "scene.pov", "scene_size": 1,
                 "scene_checksum": "0" * 64, "renderer": "povray", "options": "{}",
                 "frame_first": 1, "frame_last": 1, "frame_step": 1, "anim_initial_frame": 1,
                 "anim_final_frame": 1, "anim_initial_clock": 0.0, "anim_final_clock": 1.0,
                 "anim_cyclic": False, "width": 64, "height": 48, "cluster": "default",
                 "created_at": now, "updated_at": now,
                 "state_changed_at": now - datetime.timedelta(seconds=n)}
                for n in range(count)]
        with db.database.atomic():
            for first in range(0, count, 1000):
                Job.insert_many(rows[first:first + 1000]).execute()
    db.dispose()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("RAYCRAFTER_BENCH_DATABASE_URL"))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--agents", type=int, default=32)
    parser.add_argument("--modes", nargs="+", default=["1", "50/10"],
                        help="bench/api_claims.py's modes")
    parser.add_argument("--processes", type=int, default=SHIPPED["processes"])
    args = parser.parse_args()
    with bench_database(args.database_url) as url, \
            tempfile.TemporaryDirectory(prefix="rc-bench-") as tmp:
        values = {"database_url": url, "data_dir": os.path.join(tmp, "data"),
                  "max_frames_per_job": FRAMES_PER_JOB}
        compare(values, tmp, args)
        scrape_time(values, tmp)


if __name__ == "__main__":
    main()
