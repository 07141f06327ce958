"""This repository's Salt tree, as the tests point masterless minions at it."""
import pathlib

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
ROLES = ("db", "broker", "web", "worker", "logging", "cluster", "allinone")


def masterless_config(pillar_dir, roles):
    """Minion settings for a masterless run over the repository with the given roles."""
    return {
        "file_client": "local",
        "file_roots": {"base": [str(REPOSITORY)]},
        "pillar_roots": {"base": [str(REPOSITORY / "pillar"), str(pillar_dir)]},
        "file_ignore_regex": [r"/\.git($|/)"],
        "state_top": "top.sls",
        "grains": {"roles": list(roles)},
    }
