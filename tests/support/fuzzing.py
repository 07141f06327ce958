"""Schemathesis, a third-party fuzzer, run against the OpenAPI document the real API serves,
once for each kind of caller (a user, the worker, an agent), counting server errors.

Schemathesis generates requests from the document (and every mutation of them that breaks
it), sends them, and reports any 5xx answer (check ``not_a_server_error``) with a curl
line that reproduces it. Only the API's own loopback address is ever sent to.
"""
import dataclasses
import json
import os
import subprocess
import sys


@dataclasses.dataclass
class FuzzRun:
    caller: str
    operations: int
    test_cases: int
    server_errors: list  # "METHOD PATH" of each operation that answered 5xx
    output: str


def fuzz(api_url, caller, token, max_examples, report_dir, seed=None):
    """Run Schemathesis against ``api_url`` (ending in /api/v1) as ``caller``."""
    report = os.path.join(report_dir, f"schemathesis-{caller}.json")
    command = [os.path.join(os.path.dirname(sys.executable), "schemathesis"), "run",
               f"{api_url}/openapi.json", "--checks", "not_a_server_error",
               "--max-examples", str(max_examples), "--header",
               f"Authorization: Bearer {token}", "--report", "json", "--report-json-path",
               report, "--no-color", "--request-timeout", "30"]
    if seed is not None:
        command += ["--seed", str(seed)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=3000)
    with open(report) as handle:
        summary = json.load(handle)
    errors = sorted({operation for failure in summary["failures"]
                     if failure["code"] == "ST101" for operation in failure["operations"]})
    return FuzzRun(caller, summary["operations"]["tested"], summary["test_cases"]["generated"],
                   errors, done.stdout[-6000:] + done.stderr[-2000:])
