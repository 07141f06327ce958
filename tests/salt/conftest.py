"""Salt test fixtures: a masterless minion per role over this repository's state tree.

The pillar is the documented pillar.example plus secrets made by the same generator the
appliance uses (encrypted to a key of the test's own) and the master's role assignment:
`render-ROLE` holds ROLE, `render-allinone` every role, so what renders here is what a new
deployment renders.
"""
import pytest

from support.salt_tree import REPOSITORY, ROLES, make_pillar, masterless_config, stop_gpg_agent

ALL_IN_ONE = "allinone"


def assignment():
    held = {"render-" + role: [role] for role in ROLES}
    held["render-" + ALL_IN_ONE] = list(ROLES)
    return held


@pytest.fixture(scope="session")
def gpg_keydir(tmp_path_factory):
    keydir = tmp_path_factory.mktemp("gpg")
    yield keydir
    stop_gpg_agent(keydir)


@pytest.fixture(scope="session")
def example_pillar_dir(tmp_path_factory, gpg_keydir):
    pillar_dir = tmp_path_factory.mktemp("pillar")
    (pillar_dir / "site.sls").write_text((REPOSITORY / "pillar" / "pillar.example").read_text())
    make_pillar(pillar_dir, gpg_keydir, assignment())
    return pillar_dir


@pytest.fixture(scope="session")
def role_minions(salt_factories, example_pillar_dir, gpg_keydir):
    """One masterless minion (configuration only, no daemon) for each role, and one that
    holds every role."""
    return {
        role: salt_factories.salt_minion_daemon(
            "render-" + role, overrides=masterless_config(example_pillar_dir, gpg_keydir))
        for role in ROLES + (ALL_IN_ONE,)
    }
