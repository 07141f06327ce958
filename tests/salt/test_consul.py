"""Consul discovery (raycrafter:common:discovery: consul) against a double of Consul's HTTP
API on loopback: no Consul agent can run on these machines (neither Debian, PyPI nor npm
ships one), so the states' registration module (_modules and _states/raycrafter_consul.py,
through python-consul) and their lookups are tested against tests/support/consul_double.py,
which answers with the JSON shapes of Consul's API. Nothing here is applied to the host but
registrations with the double.
"""
import json
import shutil
import tomllib

import jinja2
import pytest

from support.consul_double import ConsulDouble
from support.salt_tree import REPOSITORY, ROLES, masterless_config, write_assignment, write_consul_site

# Every role's service, as another host's states would have registered it: under the
# host's name, with its address in the service's Meta.
OTHER_HOSTS = (("db-2", "10.0.0.12", "raycrafter-postgresql", 5432),
               ("broker-1", "10.0.0.21", "raycrafter-rabbitmq", 5671),
               ("web-1", "10.0.0.31", "raycrafter-api", 443),
               ("cluster-1", "10.0.0.41", "raycrafter-cluster-login", 22),
               ("logging-1", "10.0.0.51", "raycrafter-logserver", 12201),
               ("monitoring-1", "10.0.0.81", "raycrafter-prometheus", 9090))
# Which host holds which role: the master's word, roles.yaml. web-2 and db-1 are
# assigned too; "rogue" is a host of the deployment the master assigns no such role.
ASSIGNED = {"db-1": ["db"], "db-2": ["db"], "broker-1": ["broker"], "web-1": ["web"],
            "web-2": ["web"], "cluster-1": ["cluster"], "logging-1": ["logging"],
            "worker-1": ["worker"], "monitoring-1": ["monitoring"],
            "rogue": ["logging"], **{"consul-" + role: [role] for role in ROLES}}


def register(consul, node, address, service, port, status="passing"):
    consul.add_host_instance(node, address, service, port, status=status)


@pytest.fixture(scope="module")
def agent():
    with ConsulDouble() as double:
        yield double


@pytest.fixture
def consul(agent):
    """The module's double, emptied for each test."""
    agent.instances.clear()
    agent.requests.clear()
    return agent


@pytest.fixture
def catalog(consul):
    """The double with every role's service registered by other hosts, and one more
    database host whose check fails."""
    register(consul, "db-1", "10.0.0.11", "raycrafter-postgresql", 5432, status="critical")
    for host in OTHER_HOSTS:
        register(consul, *host)
    return consul


@pytest.fixture(scope="module")
def minions(salt_factories, example_pillar_dir, gpg_keydir, tmp_path_factory, agent):
    """A masterless minion per role of a site that runs Consul: its site.sls sets only the
    discovery (no address is pinned), its secrets are the render tier's. Each has synced
    the modules a highstate syncs itself from salt://_modules and salt://_states (a single
    state or a show_* function does not)."""
    pillar_dir = tmp_path_factory.mktemp("consul-pillar")
    shutil.copytree(example_pillar_dir, pillar_dir, dirs_exist_ok=True)
    write_consul_site(pillar_dir, agent.url)
    write_assignment(pillar_dir, ASSIGNED)
    made = {}
    for role in ("db", "broker", "web", "worker", "logging", "cluster", "monitoring"):
        made[role] = salt_factories.salt_minion_daemon(
            "consul-" + role, overrides=masterless_config(pillar_dir, gpg_keydir))
        ret = made[role].salt_call_cli().run("--local", "saltutil.sync_all")
        assert ret.returncode == 0, ret.stderr
        assert "modules.raycrafter_consul" in ret.data["modules"], ret.data
    return made


def _run(minion, *args):
    return minion.salt_call_cli().run("--local", *args)


def _argument(state, name):
    function = next(key for key in state if not key.startswith("__"))
    return next(item[name] for item in state[function] if isinstance(item, dict) and name in item)


def _register(minion, consul, port, state="registered"):
    args = ["state.single", f"raycrafter_consul.{state}", "name=raycrafter-postgresql",
            f"agent={consul.url}"]
    if state == "registered":
        args += ["address=10.0.0.5", f"port={port}",
                 f'check={{"TCP": "10.0.0.5:{port}", "Interval": "10s"}}']
    ret = _run(minion, *args)
    assert ret.returncode == 0, ret.stderr
    (result,) = ret.data.values()
    assert result["result"] is True, result["comment"]
    return result


def test_registration_is_idempotent_and_follows_a_changed_port(minions, consul):
    minion = minions["db"]
    first = _register(minion, consul, 5432)
    assert first["changes"]["old"] is None
    service = consul.local_services()["raycrafter-postgresql"]
    assert (service["service"]["Address"], service["service"]["Port"]) == ("10.0.0.5", 5432)
    assert [check["Status"] for check in service["checks"]] == ["critical"]
    assert _register(minion, consul, 5432)["changes"] == {}
    moved = _register(minion, consul, 5433)
    assert (moved["changes"]["old"]["port"], moved["changes"]["new"]["port"]) == (5432, 5433)
    assert consul.local_services()["raycrafter-postgresql"]["service"]["Port"] == 5433
    assert _register(minion, consul, 5433, state="absent")["changes"]["new"] is None
    assert consul.local_services() == {}
    assert _register(minion, consul, 5433, state="absent")["changes"] == {}


def test_an_agent_that_does_not_answer_fails_the_state_naming_it(minions):
    with ConsulDouble() as gone:
        url = gone.url
    ret = _run(minions["db"], "state.single", "raycrafter_consul.absent",
               "name=raycrafter-postgresql", f"agent={url}")
    assert ret.returncode != 0
    (result,) = ret.data.values()
    assert result["result"] is False and f"Consul agent at {url}" in result["comment"]


@pytest.mark.parametrize("role, sls, service, port, check", [
    ("db", "salt.postgres", "raycrafter-postgresql", 5432, "TCP"),
    ("broker", "salt.rabbitmq", "raycrafter-rabbitmq", 5671, "TCP"),
    ("web", "salt.nginx", "raycrafter-api", 443, "HTTP"),
    ("logging", "salt.logserver", "raycrafter-logserver", 12201, "TCP"),
    ("cluster", "salt.cluster.sshd", "raycrafter-cluster-login", 22, "TCP"),
    ("monitoring", "salt.monitoring", "raycrafter-prometheus", 9090, "TCP"),
])
def test_each_role_registers_its_service_with_a_health_check(minions, catalog, role, sls,
                                                             service, port, check):
    ret = _run(minions[role], "state.show_sls", sls)
    assert ret.returncode == 0, ret.stderr
    registered = [key for key in ret.data if key.endswith("-consul-service-registered")]
    assert len(registered) == 1, registered
    state = ret.data[registered[0]]
    # After the state that starts the service.
    ((kind, started),) = _argument(state, "require")[0].items()
    assert kind in ret.data[started] and "running" in started
    # Peers reach it by the host's name, which its certificate carries; the agent checks
    # it at the address that name stands for.
    assert _argument(state, "address") == minions[role].id
    address = _argument(state, "host_address")
    assert address != minions[role].id
    assert (_argument(state, "name"), _argument(state, "port")) == (service, port)
    definition = _argument(state, "check")
    assert definition["Interval"] == "10s" and definition["Timeout"] == "5s"
    expected = (f"{address}:{port}" if check == "TCP"
                else f"https://{address}:{port}/api/v1/health")
    assert definition[check] == expected
    assert _argument(state, "agent") == catalog.url


@pytest.mark.parametrize("role, sls, service, stopped", [
    ("db", "salt.postgres.clean", "raycrafter-postgresql", "postgres-service-dead"),
    ("broker", "salt.rabbitmq.clean", "raycrafter-rabbitmq", "rabbitmq-service-dead"),
    ("web", "salt.nginx.clean", "raycrafter-api", "nginx-raycrafter-site-file-absent"),
    ("logging", "salt.logserver.clean", "raycrafter-logserver",
     "raycrafter-logserver-supervisor-program-file-absent"),
    ("cluster", "salt.cluster.clean", "raycrafter-cluster-login", None),
    ("monitoring", "salt.monitoring.clean", "raycrafter-prometheus",
     "monitoring-prometheus-service-dead"),
])
def test_cleaning_a_role_away_deregisters_its_service_before_it_stops(minions, catalog, role,
                                                                     sls, service, stopped):
    """The cluster role leaves sshd running (the host's own): only its registration goes."""
    ret = _run(minions[role], "state.show_sls", sls)
    assert ret.returncode == 0, ret.stderr
    absent = [key for key, state in ret.data.items() if "raycrafter_consul" in state]
    assert len(absent) == 1, list(ret.data)
    state = ret.data[absent[0]]
    assert "absent" in state["raycrafter_consul"]
    assert (_argument(state, "name"), _argument(state, "agent")) == (service, catalog.url)
    if stopped:
        (kind, required_in), = _argument(state, "require_in")[0].items()
        assert kind in ret.data[stopped] and required_in == stopped


def test_states_reach_a_healthy_instance_and_components_look_again_at_start(minions, catalog):
    """The web host's API configuration names the healthy database host (db-2, not the
    critical db-1) and the broker, and tells the API to look both up again when it starts."""
    ret = _run(minions["web"], "state.show_sls", "salt.api.config")
    assert ret.returncode == 0, ret.stderr
    context = _argument(ret.data["api-config-file-managed"], "context")
    assert "@db-2:5432/" in context["database_url"]
    assert context["amqp_url"].startswith("amqps:") and "@broker-1:5671/" in context["amqp_url"]
    assert context["consul_agent"] == catalog.url
    assert context["consul_services"] == {"database_url": "raycrafter-postgresql",
                                          "amqp_url": "raycrafter-rabbitmq"}
    written = _template("salt/api/files/api.toml.jinja", context)
    assert written["consul_services"] == context["consul_services"]
    assert written["consul_agent"] == catalog.url


def test_the_worker_finds_every_role_it_reaches(minions, catalog):
    ret = _run(minions["worker"], "state.show_sls", "salt.worker.config")
    assert ret.returncode == 0, ret.stderr
    context = _argument(ret.data["worker-config-file-managed"], "context")
    standin = context["worker"]["clusters"]["standin"]
    assert context["amqp_url"].startswith("amqps:") and "@broker-1:5671/" in context["amqp_url"]
    assert (standin["login_host"], standin["log_host"]) == ("cluster-1", "logging-1")
    assert context["worker"]["api_url"] == standin["agent_api_url"] == "https://web-1"
    written = _template("salt/worker/files/worker.toml.jinja", context)
    assert written["consul_services"] == {"amqp_url": "raycrafter-rabbitmq",
                                          "api_url": "raycrafter-api"}
    assert written["clusters"]["standin"]["consul_services"] == {
        "login_host": "raycrafter-cluster-login", "log_host": "raycrafter-logserver",
        "agent_api_url": "raycrafter-api"}


def test_hosts_registered_by_name_are_reached_by_that_name_at_their_address(minions, catalog):
    """What the states register (the host's minion ID, with its address in the service's
    Meta) is reached by the name, so TLS verifies the certificate issued for it; the
    name is mapped to its address in /etc/hosts, and address rules take the address."""
    ret = _run(minions["web"], "state.show_sls", "salt.api.config,salt.common.peers")
    assert ret.returncode == 0, ret.stderr
    context = _argument(ret.data["api-config-file-managed"], "context")
    assert "@db-2:5432/" in context["database_url"] and "sslmode=verify-full" in context["database_url"]
    assert "@broker-1:5671/" in context["amqp_url"]
    mapped = {_argument(state, "name"): _argument(state, "ip")
              for key, state in ret.data.items() if key.startswith("common-peer-")}
    assert mapped["db-2"] == "10.0.0.12" and mapped["broker-1"] == "10.0.0.21"
    assert minions["web"].id in mapped
    ret = _run(minions["db"], "state.show_sls", "salt.postgres.config")
    assert ret.returncode == 0, ret.stderr
    hba = json.dumps(ret.data["postgres-hba-config-file-managed"])
    assert "10.0.0.31" in hba and "web-1" not in hba


def test_the_database_admits_every_registered_web_host_healthy_or_not(minions, catalog):
    register(catalog, "web-2", "10.0.0.32", "raycrafter-api", 443, status="critical")
    ret = _run(minions["db"], "state.show_sls", "salt.postgres.config")
    assert ret.returncode == 0, ret.stderr
    hba = json.dumps(ret.data["postgres-hba-config-file-managed"])
    assert "10.0.0.31" in hba and "10.0.0.32" in hba


def test_only_hosts_the_master_assigns_a_role_are_trusted_with_it(minions, catalog):
    """Anyone who reaches a Consul agent can register a service: a host the master does
    not assign the role (rogue holds logging) is neither reached as the database nor
    admitted by the database as an API host, however healthy it says it is."""
    register(catalog, "rogue", "10.0.0.66", "raycrafter-postgresql", 5432)
    register(catalog, "rogue", "10.0.0.66", "raycrafter-api", 443)
    ret = _run(minions["db"], "state.show_sls", "salt.postgres.config")
    assert ret.returncode == 0, ret.stderr
    hba = json.dumps(ret.data["postgres-hba-config-file-managed"])
    assert "10.0.0.31" in hba and "10.0.0.66" not in hba
    catalog.set_status("raycrafter-postgresql", "critical", node="db-2")
    ret = _run(minions["web"], "state.show_sls", "salt.api.config")
    assert ret.returncode != 0
    assert ("the Consul service raycrafter-postgresql (role db) has no healthy instance "
            "registered by a host the salt master assigns that role" in ret.stdout + ret.stderr)


def test_the_worker_registers_so_the_roles_it_reaches_admit_it(minions, catalog):
    """The worker serves nothing, yet the broker's and the cluster's firewalls must admit
    it: it registers without a port or a check, and their rules name its address."""
    ret = _run(minions["worker"], "state.show_sls", "salt.worker.service")
    assert ret.returncode == 0, ret.stderr
    state = ret.data["worker-consul-service-registered"]
    assert (_argument(state, "name"), _argument(state, "port"), _argument(state, "check")) == (
        "raycrafter-worker", 0, None)
    register(catalog, "worker-1", "10.0.0.61", "raycrafter-worker", 0)
    rules = {}
    for role in ("broker", "cluster"):
        ret = _run(minions[role], "state.show_sls", "salt.firewall")
        assert ret.returncode == 0, ret.stderr
        context = _argument(ret.data["firewall-ruleset-file-managed"], "context")
        rules[role] = {tuple(ports): sources for _, ports, sources in context["firewall"]["services"]}
    assert set(rules["broker"][("5671",)]) == {"10.0.0.31", "10.0.0.61"}
    assert rules["cluster"][("22",)] == ["10.0.0.61"]
    assert rules["cluster"][("50000-50999",)] == ["10.0.0.61"]


def test_the_api_asks_the_monitoring_hosts_prometheus_which_admits_the_web_hosts(
        minions, catalog):
    """The operator's page: the API reaches Prometheus by the monitoring host's name over
    TLS (the deployment CA), and the monitoring host's firewall admits the web hosts to
    Prometheus's port, as well as the operators' networks (none in pillar.example)."""
    ret = _run(minions["web"], "state.show_sls", "salt.api.config")
    assert ret.returncode == 0, ret.stderr
    context = _argument(ret.data["api-config-file-managed"], "context")
    assert context["api"]["prometheus_url"] == "https://monitoring-1:9090"
    written = _template("salt/api/files/api.toml.jinja", context)
    assert (written["prometheus_url"], written["prometheus_ca_file"]) == (
        "https://monitoring-1:9090", "/etc/raycrafter/tls/ca.crt")
    ret = _run(minions["monitoring"], "state.show_sls", "salt.firewall")
    assert ret.returncode == 0, ret.stderr
    context = _argument(ret.data["firewall-ruleset-file-managed"], "context")
    rules = {tuple(ports): sources for _, ports, sources in context["firewall"]["services"]}
    assert rules[("9090",)] == ["10.0.0.31"]
    assert rules[("9093",)] == []


def test_a_role_without_a_healthy_instance_stops_the_render_naming_its_service(minions, catalog):
    catalog.set_status("raycrafter-logserver", "critical", node="logging-1")
    ret = _run(minions["worker"], "state.show_sls", "salt.worker.config")
    assert ret.returncode != 0
    assert ("the Consul service raycrafter-logserver (role logging) has no healthy instance"
            in ret.stdout + ret.stderr)


def test_by_default_nothing_registers_and_nothing_is_looked_up(role_minions, consul):
    ret = _run(role_minions["allinone"], "state.show_highstate")
    assert ret.returncode == 0, ret.stderr
    assert not [key for key in ret.data if "-consul-" in key]
    context = _argument(ret.data["api-config-file-managed"], "context")
    assert (context["consul_agent"], context["consul_services"]) == ("", {})
    assert consul.requests == []


def _template(path, context):
    """A component's configuration as Salt writes it, read back as TOML."""
    environment = jinja2.Environment()
    environment.filters["json"] = json.dumps
    source = (REPOSITORY / path).read_text()
    return tomllib.loads(environment.from_string(source).render(**context))
