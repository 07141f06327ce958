"""The alert rules of the monitoring role, unit-tested with Prometheus's own promtool
(`promtool test rules`, from Debian's prometheus): each alert fires on the series that
mean trouble and stays quiet on those that do not, its summary as the operator reads it."""
import pathlib
import subprocess

import pytest
import yaml

HERE = pathlib.Path(__file__).resolve().parent
RULES = HERE.parents[1] / "salt" / "monitoring" / "files"
TESTS = sorted(HERE.glob("*_rules_test.yml"))


@pytest.mark.parametrize("test_file", TESTS, ids=lambda path: path.name)
def test_promtool_passes_the_rules_unit_tests(test_file):
    result = subprocess.run(["promtool", "test", "rules", test_file.name], cwd=HERE,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_file_is_valid_and_every_alert_has_a_test_that_fires_it():
    alerts = set()
    for rule_file in RULES.glob("*.rules.yml"):
        checked = subprocess.run(["promtool", "check", "rules", str(rule_file)],
                                 capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        alerts |= {rule["alert"] for group in yaml.safe_load(rule_file.read_text())["groups"]
                   for rule in group["rules"] if "alert" in rule}
    fired = {case["alertname"] for test_file in TESTS
             for test in yaml.safe_load(test_file.read_text())["tests"]
             for case in test.get("alert_rule_test", []) if case.get("exp_alerts")}
    assert alerts and alerts - fired == set()
    tested_files = {path for test_file in TESTS
                    for path in yaml.safe_load(test_file.read_text())["rule_files"]}
    assert {f"../../salt/monitoring/files/{path.name}" for path in RULES.glob("*.rules.yml")} == tested_files
