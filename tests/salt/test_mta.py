"""The web host's MTA as salt/mta configures Debian's exim4: its settings file read by
Debian's own update-exim4.conf, and the configuration that makes asked by exim4 itself
where a message would go (``-bt`` routes an address and sends nothing)."""
import shutil
import subprocess

import jinja2
import pytest
import yaml

from support.salt_tree import REPOSITORY

MTA = REPOSITORY / "salt" / "mta"


def exim_configuration(tmp_path, **pillar):
    """The exim4 configuration Debian generates from the settings salt/mta writes with
    ``pillar`` over the defaults."""
    mta = {**yaml.safe_load((MTA / "defaults.yaml").read_text()),
           "mailname": "web.lab.example", **pillar}
    template = jinja2.Template((MTA / "files" / "update-exim4.conf.conf.jinja").read_text())
    (tmp_path / "update-exim4.conf.conf").write_text(template.render(mta=mta))
    shutil.copy("/etc/exim4/exim4.conf.template", tmp_path)
    generated = tmp_path / "exim4.conf"
    subprocess.run(["update-exim4.conf", "--confdir", str(tmp_path), "--output",
                    str(generated)], check=True, capture_output=True, text=True)
    return generated


def route(configuration, address):
    result = subprocess.run(["exim4", "-C", str(configuration), "-bt", address],
                            capture_output=True, text=True)
    return result.stdout + result.stderr


def setting(configuration, name):
    return subprocess.run(["exim4", "-C", str(configuration), "-bP", name],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_with_a_smarthost_every_message_goes_to_it(tmp_path):
    # An address of the documentation block: -bt resolves nothing and connects nowhere.
    configuration = exim_configuration(tmp_path, smarthost="192.0.2.25::587")
    routed = route(configuration, "alice@lab.example")
    assert "router = smarthost, transport = remote_smtp_smarthost" in routed
    assert "host 192.0.2.25 [192.0.2.25] port=587" in routed
    # A null client: even a local user's mail goes to the relay, under the mail name.
    assert "R: smarthost for root@web.lab.example" in route(configuration, "root")


def test_without_a_smarthost_mail_stays_local_and_nothing_is_relayed(tmp_path):
    configuration = exim_configuration(tmp_path)
    assert "Mailing to remote domains not supported" in route(configuration,
                                                              "alice@lab.example")


@pytest.mark.parametrize("smarthost", ["", "192.0.2.25::587"])
def test_the_mta_listens_on_loopback_only(tmp_path, smarthost):
    configuration = exim_configuration(tmp_path, smarthost=smarthost)
    assert setting(configuration, "local_interfaces") == "local_interfaces = <; 127.0.0.1 ; ::1"
