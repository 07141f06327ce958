"""Salt test fixtures: a masterless minion per role over this repository's state tree.

The pillar is the documented pillar.example plus a secrets file made by the same
generator the appliance uses, so what renders here is what a new deployment renders.
"""
import subprocess
import sys

import pytest

from support.salt_tree import REPOSITORY, ROLES, masterless_config

@pytest.fixture(scope="session")
def example_pillar_dir(tmp_path_factory):
    pillar_dir = tmp_path_factory.mktemp("pillar")
    (pillar_dir / "site.sls").write_text((REPOSITORY / "pillar" / "pillar.example").read_text())
    subprocess.run(
        [sys.executable, str(REPOSITORY / "pillar" / "generate_secrets.py"), str(pillar_dir / "secrets.sls")],
        check=True,
        capture_output=True,
    )
    return pillar_dir


@pytest.fixture(scope="session")
def role_minions(salt_factories, example_pillar_dir):
    """One masterless minion (configuration only, no daemon) for each role."""
    return {
        role: salt_factories.salt_minion_daemon(
            "render-" + role, overrides=masterless_config(example_pillar_dir, [role])
        )
        for role in ROLES
    }
