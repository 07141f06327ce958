"""Render tier: every state and every role's highstate render with pillar.example.

Nothing is applied: `state.show_sls` and `state.show_highstate` only compile.
"""
import json
import subprocess
import sys

import pytest
import yaml

from support.salt_tree import CATALOGUE, REPOSITORY, ROLES

STATE_FILES = sorted(
    path for path in (REPOSITORY / "salt").rglob("*.sls")
)

# What every host gets whatever its roles (the catalogue's every_host), and what roles share.
EVERY_HOST = tuple(CATALOGUE["every_host"]["states"])
SHARED = ("salt.supervisor", "salt.contract", "salt.backup")


def sls_name(path):
    relative = path.relative_to(REPOSITORY).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "init" else relative.parts
    return ".".join(parts)


@pytest.mark.parametrize("path", STATE_FILES, ids=sls_name)
def test_every_state_renders(role_minions, path):
    ret = role_minions["allinone"].salt_call_cli().run("--local", "state.show_sls", sls_name(path))
    assert ret.returncode == 0, ret.stderr
    assert isinstance(ret.data, dict) and ret.data, ret.stdout


def _belongs_to(sls, states):
    return any(sls == state or sls.startswith(state + ".") for state in states)


@pytest.mark.parametrize("role", ROLES + ("allinone",))
def test_role_highstate_renders(role_minions, role):
    """A host's highstate holds the states the catalogue gives each of its roles, every
    host's own and what roles share, and nothing of another role's."""
    ret = role_minions[role].salt_call_cli().run("--local", "state.show_highstate")
    assert ret.returncode == 0, ret.stderr
    assert isinstance(ret.data, dict), ret.stdout
    held = ROLES if role == "allinone" else (role,)
    states = [state for name in held for state in CATALOGUE["roles"][name]["states"]]
    compiled = {value["__sls__"] for value in ret.data.values()}
    assert {state for state in states if not any(_belongs_to(sls, [state]) for sls in compiled)} == set()
    assert {sls for sls in compiled
            if not _belongs_to(sls, states + list(EVERY_HOST + SHARED))} == set(), \
        "a role pulled in another role's states"


def test_pillar_example_is_the_defaults_files_put_together():
    """Every default is defined once, in its component's defaults.yaml; pillar.example is
    written from those files by pillar/make_example.py and must not drift from them."""
    result = subprocess.run([sys.executable, str(REPOSITORY / "pillar" / "make_example.py"),
                             "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    example = yaml.safe_load((REPOSITORY / "pillar" / "pillar.example").read_text())
    for defaults_file in (REPOSITORY / "salt").glob("*/defaults.yaml"):
        assert example["raycrafter"][defaults_file.parent.name] == yaml.safe_load(
            defaults_file.read_text())


def test_no_secret_literal_in_states_or_pillar_defaults():
    """Secrets come only from the generated pillar: no state or default carries one."""
    generated_names = ("password", "token", "private_key")
    for path in list((REPOSITORY / "salt").rglob("*")) + [REPOSITORY / "pillar" / "pillar.example"]:
        if path.suffix not in (".sls", ".yaml", ".jinja", ".example"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith("#") or ":" not in stripped:
                continue
            key, _, value = stripped.partition(":")
            # A number is a limit (requests_per_token) and a template expression is no
            # literal: neither is a secret written down.
            if value.strip().isdigit() or "{{" in value:
                continue
            if any(name in key for name in generated_names) and value.strip() not in ("", '""', "''"):
                assert "secrets." in value or "raycrafter_secrets" in value or "profile.get" in value, (
                    f"{path.relative_to(REPOSITORY)}:{number} sets {key} to a literal"
                )


def test_broker_names_from_pillar_reach_the_api_and_the_worker(role_minions):
    """The exchange and queue set in pillar are what the API publishes to and the worker
    consumes from; their defaults are the contract's."""
    from raycrafter_contract import messaging
    minion = role_minions["allinone"].salt_call_cli()
    compiled = _compiled(minion, "salt.worker.config", {})
    context = _argument(compiled["worker-config-file-managed"], "context")
    assert (context["exchange"], context["queue"]) == (messaging.EXCHANGE, messaging.QUEUE)
    pillar = '{"raycrafter": {"rabbitmq": {"exchange": "site.jobs", "queue": "site.work"}}}'
    seen = {}
    for sls, state_id in (("salt.api.config", "api-config-file-managed"),
                          ("salt.worker.config", "worker-config-file-managed")):
        ret = minion.run("--local", "state.show_sls", sls, f"pillar={pillar}")
        assert ret.returncode == 0, ret.stderr
        context = next(item for item in ret.data[state_id]["file"]
                       if isinstance(item, dict) and "context" in item)["context"]
        seen[sls] = (context.get("exchange"), context.get("queue"))
    assert seen == {"salt.api.config": ("site.jobs", None),
                    "salt.worker.config": ("site.jobs", "site.work")}


def test_paths_are_set_once_in_common(role_minions):
    """Overriding raycrafter:common:paths moves every path of every component: the
    compiled highstate names no default path any more."""
    defaults = yaml.safe_load((REPOSITORY / "salt" / "common" / "defaults.yaml").read_text())
    moved = {name: f"/srv/site/{name}" for name in defaults["paths"]}
    pillar = json.dumps({"raycrafter": {"common": {"paths": moved}}})
    ret = role_minions["allinone"].salt_call_cli().run("--local", "state.show_highstate",
                                                       f"pillar={pillar}")
    assert ret.returncode == 0, ret.stderr
    compiled = json.dumps(ret.data)
    for name, default in defaults["paths"].items():
        assert default + "/" not in compiled and f'"{default}"' not in compiled, name
        assert moved[name] in compiled, name


def test_every_component_has_a_clean_state():
    shared = {"common", "supervisor"}
    components = {path.parent.name for path in (REPOSITORY / "salt").glob("*/init.sls")}
    missing = sorted(name for name in components - shared
                     if not (REPOSITORY / "salt" / name / "clean.sls").exists())
    assert not missing, f"no clean.sls in {missing}"


def test_each_role_holds_only_its_own_secrets(role_minions):
    """A host's pillar carries the secrets the catalogue gives its roles, and no others: no
    cluster key outside worker and cluster hosts, no database password on worker, cluster
    or logging hosts, no admin token outside web hosts."""
    held = {}
    for role in ROLES + ("allinone",):
        ret = role_minions[role].salt_call_cli().run("--local", "pillar.get", "raycrafter_secrets")
        assert ret.returncode == 0, ret.stderr
        held[role] = set(ret.data)
    for role in ROLES:
        assert held[role] == set(CATALOGUE["roles"][role]["secrets"]), role
    assert held["allinone"] == set().union(*(held[role] for role in ROLES))
    assert "cluster_ssh_private_key" not in held["web"] | held["cluster"] | held["db"]
    assert "postgres_password" not in held["worker"] | held["cluster"] | held["logging"]
    assert {role for role in held if "api_admin_token" in held[role]} == {"web", "allinone"}
    assert not any("tls_ca_private_key" in keys for keys in held.values())


def test_roles_are_the_assignments_never_the_minions_grain(role_minions):
    """A minion that gives itself every role by its own grain still gets the states and
    the secrets of the role the master assigned it only."""
    minion = role_minions["logging"].salt_call_cli()
    claim = json.dumps(list(ROLES))
    ret = minion.run("--local", "grains.setval", "roles", claim)
    assert ret.returncode == 0, ret.stderr
    try:
        highstate = minion.run("--local", "state.show_highstate")
        secrets = minion.run("--local", "pillar.get", "raycrafter_secrets")
    finally:
        minion.run("--local", "grains.delkey", "roles", "force=True")
    assert highstate.returncode == 0, highstate.stderr
    assert {value["__sls__"] for value in highstate.data.values()} & {"salt.postgres.service", "salt.api.config"} == set()
    assert set(secrets.data) == set(CATALOGUE["roles"]["logging"]["secrets"])


def _compiled(minion, sls, pillar):
    ret = minion.run("--local", "state.show_sls", sls, f"pillar={json.dumps(pillar)}")
    assert ret.returncode == 0, ret.stderr
    return ret.data


def _argument(state, name):
    function = next(key for key in state if not key.startswith("__"))
    return next(item[name] for item in state[function] if isinstance(item, dict) and name in item)


def test_the_standin_profile_follows_the_roles_that_make_the_standin(role_minions):
    """The worker's profile of the stand-in cluster is taken from the settings of the roles
    that make the stand-in (cluster, nodeagent, nginx, logserver and where each is
    reached, their ports from the catalogue): overriding them there moves the profile, its
    ssh files and the login node's sshd alike, and a site's own clusters:standin key still
    wins. (A port moved in the catalogue moves them too: tests/salt/test_catalogue_states.py.)"""
    import jinja2
    minion = role_minions["allinone"].salt_call_cli()
    site = {"raycrafter": {
        "common": {"addresses": {"cluster": "10.9.0.5", "logging": "10.9.0.6"}},
        "cluster": {"user": "painter", "scratch": "/lustre/scratch",
                    "slurm": {"partition": "render"}},
        "nodeagent": {"venv": "/opt/site/agent"},
        "nginx": {"server_names": ["api.example.org"],
                  "certificate_file": "/etc/site/api.pem"},
        "worker": {"clusters": {"standin": {"walltime": "02:00:00"}}}}}
    compiled = _compiled(minion, "salt.worker.config", site)
    worker = _argument(compiled["worker-config-file-managed"], "context")["worker"]
    profile = worker["clusters"]["standin"]
    assert {key: profile[key] for key in (
        "login_host", "port", "user", "scratch", "queue", "nodeagent", "agent_api_url",
        "agent_ca_file", "log_host", "log_port", "walltime")} == {
        "login_host": "10.9.0.5", "port": 22, "user": "painter",
        "scratch": "/lustre/scratch", "queue": "render",
        "nodeagent": "/opt/site/agent/bin/raycrafter-nodeagent",
        "agent_api_url": "https://api.example.org", "agent_ca_file": "/etc/site/api.pem",
        "log_host": "10.9.0.6", "log_port": 12201, "walltime": "02:00:00"}
    assert (worker["api_url"], worker["ca_file"]) == ("https://api.example.org",
                                                      "/etc/site/api.pem")
    known_hosts = _argument(compiled["worker-standin-known-hosts-file-managed"], "contents")
    assert known_hosts.startswith("10.9.0.5 ssh-ed25519 ")
    ssh_config = _argument(compiled["worker-standin-ssh-config-file-managed"], "contents")
    assert "HostName 10.9.0.5" in ssh_config and "Port 22" in ssh_config
    assert "User painter" in ssh_config
    sshd = _compiled(minion, "salt.cluster.sshd", site)
    context = _argument(sshd["cluster-sshd-config-file-managed"], "context")
    template = (REPOSITORY / "salt" / "cluster" / "files" / "sshd-raycrafter.conf.jinja")
    sshd_config = jinja2.Template(template.read_text()).render(**context).splitlines()
    assert "Port 22" in sshd_config and "Match User painter" in sshd_config


def test_by_default_the_standin_profile_is_where_the_roles_defaults_put_the_standin(
        role_minions):
    defaults = {name: yaml.safe_load((REPOSITORY / "salt" / name / "defaults.yaml").read_text())
                for name in ("cluster", "worker")}
    compiled = _compiled(role_minions["allinone"].salt_call_cli(), "salt.worker.config", {})
    profile = _argument(compiled["worker-config-file-managed"], "context")["worker"][
        "clusters"]["standin"]
    cluster = defaults["cluster"]
    services = {role: CATALOGUE["roles"][role]["services"] for role in ("cluster", "logging")}
    assert (profile["login_host"], profile["port"], profile["user"], profile["scratch"],
            profile["queue"], profile["log_host"], profile["log_port"]) == (
        "127.0.0.1", services["cluster"]["login"]["port"], cluster["user"],
        cluster["scratch"], cluster["slurm"]["partition"], "127.0.0.1",
        services["logging"]["gelf"]["port"])
    assert {key: profile[key] for key in defaults["worker"]["standin"]} == defaults["worker"][
        "standin"]


def test_the_metrics_are_served_on_the_catalogues_ports_and_nginx_proxies_none(role_minions):
    """The API, the relay and the worker serve metrics on their catalogue ports (loopback
    on one host), each service's processes with a directory of their own; nginx passes
    users to the API's HTTP address only, never to a metrics port."""
    minion = role_minions["allinone"].salt_call_cli()
    ports = {name: service["port"] for role in CATALOGUE["roles"].values()
             for name, service in role.get("services", {}).items() if service.get("scrape")}
    api = _argument(_compiled(minion, "salt.api.config", {})["api-config-file-managed"],
                    "context")["api"]
    worker = _argument(_compiled(minion, "salt.worker.config", {})[
        "worker-config-file-managed"], "context")["worker"]
    assert (api["metrics_listen"], api["relay_metrics_listen"], worker["metrics_listen"]) == (
        f"127.0.0.1:{ports['api_metrics']}", f"127.0.0.1:{ports['relay_metrics']}",
        f"127.0.0.1:{ports['worker_metrics']}")
    assert api["metrics_dir"] != worker["metrics_dir"]
    nginx = _argument(_compiled(minion, "salt.nginx.config", {})[
        "nginx-raycrafter-site-file-managed"], "context")["nginx"]
    assert int(nginx["upstream"].rpartition(":")[2]) not in ports.values()


def test_the_web_host_searches_the_log_hosts_records_on_the_catalogues_port(role_minions,
                                                                            tmp_path):
    """raycrafter-admin logs on the web host finds the log server where the logging role
    is, on the catalogue's log_search port, with the deployment's search token from a file
    only root reads; the log server's configuration, as its template makes it, opens that
    port and checks that token (loaded by the log server's own configuration loader)."""
    import jinja2
    import tomllib
    from raycrafter_logserver import config as logserver_config

    minion = role_minions["allinone"].salt_call_cli()
    port = CATALOGUE["roles"]["logging"]["services"]["log_search"]["port"]
    api = _compiled(minion, "salt.api.config",
                    {"raycrafter": {"common": {"addresses": {"logging": "10.9.0.6"}}}})
    state = api["api-log-search-file-managed"]
    settings = tomllib.loads(_argument(state, "contents"))
    assert (_argument(state, "user"), _argument(state, "mode")) == ("root", "0600")
    assert {key: settings[key] for key in ("host", "port", "ca_file")} == {
        "host": "10.9.0.6", "port": port, "ca_file": ""}
    wrapper = _argument(api["api-admin-command-file-managed"], "contents")
    assert "RAYCRAFTER_LOG_SEARCH_CONFIG=${RAYCRAFTER_LOG_SEARCH_CONFIG:-" in wrapper

    logserver = _compiled(minion, "salt.logserver.config", {})
    context = _argument(logserver["logserver-config-file-managed"], "context")
    assert context["search_token"] == settings["token"]
    context["logserver"]["records_file"] = str(tmp_path / "records.jsonl")
    template = REPOSITORY / "salt" / "logserver" / "files" / "logserver.toml.jinja"
    config = logserver_config.from_dict(tomllib.loads(
        jinja2.Template(template.read_text()).render(**context)))
    assert [(listener.address, listener.port) for listener in config.search_listeners] == [
        ("127.0.0.1", port)]
    assert config.search_token == settings["token"]


def test_the_api_asks_prometheus_on_loopback_where_the_host_is_the_monitoring_host(
        role_minions):
    """A masterless host that holds the monitoring role too: its API asks Prometheus over
    loopback; a web host without it knows no Prometheus, and its page says so."""
    port = CATALOGUE["roles"]["monitoring"]["services"]["prometheus"]["port"]
    answers = {}
    for role in ("allinone", "web"):
        compiled = _compiled(role_minions[role].salt_call_cli(), "salt.api.config", {})
        api = _argument(compiled["api-config-file-managed"], "context")["api"]
        answers[role] = (api["prometheus_url"], api["prometheus_ca_file"])
    assert answers == {"allinone": (f"http://127.0.0.1:{port}", ""), "web": ("", "")}
