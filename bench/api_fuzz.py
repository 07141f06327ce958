"""Schemathesis against the served OpenAPI document, 100 examples per operation or more,
as a user, the worker and an agent, on PostgreSQL (not a test; the suite runs fewer).

    /opt/raycrafter/test/bin/python bench/api_fuzz.py [--examples 100] [--seed N]

Prints, per caller, the operations tested, the requests generated and the operations that
answered with a server error (5xx), beside the same counts the suite's smaller run gives.
"""
import argparse
import pathlib
import tempfile
import time

from support.api_server import ApiServer, create_user, ensure_worker_token, write_config
from support.api_testing import SCENE, Client, submit_as_worker
from support.fuzzing import fuzz
from support.postgres import ThrowawayPostgres


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ThrowawayPostgres() as postgres:
        config = write_config(pathlib.Path(tmp) / "api.toml",
                              database_url=postgres.create_database("fuzz"),
                              data_dir=f"{tmp}/data")
        with ApiServer(config) as server:
            user = create_user(config, "alice")
            worker = ensure_worker_token(config)
            job = Client(server.url, user).post("/jobs", files={"scene": ("scene.pov", SCENE)},
                                                data={"name": "fuzzed", "frames": "1-3"}).json()
            agent = submit_as_worker(Client(server.url, worker), job["id"], "4242")
            print(f"{'caller':8} {'operations':>10} {'requests':>9} {'per operation':>13} "
                  f"{'5xx operations':>15} {'seconds':>8}")
            for caller, token in (("user", user), ("worker", worker), ("agent", agent)):
                started = time.monotonic()
                run = fuzz(server.url, caller, token, args.examples, tmp, seed=args.seed)
                print(f"{caller:8} {run.operations:10d} {run.test_cases:9d} "
                      f"{run.test_cases // max(run.operations, 1):13d} "
                      f"{len(run.server_errors):15d} {time.monotonic() - started:8.0f}")
                for operation in run.server_errors:
                    print(f"    5xx: {operation}")


if __name__ == "__main__":
    main()
