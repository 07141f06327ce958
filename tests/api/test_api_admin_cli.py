"""raycrafter-admin: users, tokens, idempotent ensure commands for Salt."""
import secrets
import shlex

import pytest
import requests

from support.api_server import ApiServer, admin, create_user, write_config


@pytest.fixture
def config_path(tmp_path, database_url):
    return write_config(tmp_path / "api.toml", database_url=database_url,
                        data_dir=str(tmp_path / "data"))


def stateful(result):
    """Salt's `stateful` reading of the last line: (changed, comment)."""
    pairs = dict(item.split("=", 1) for item in shlex.split(result.stdout.strip().splitlines()[-1]))
    return pairs["changed"], pairs["comment"]


def test_user_add_list_and_revoke(config_path):
    token = create_user(config_path, "alice")
    assert len(token) >= 43
    create_user(config_path, "root", is_admin=True)
    listing = admin(config_path, "user", "list").stdout
    assert "alice" in listing and "admin" in listing and token not in listing
    duplicate = admin(config_path, "user", "add", "alice", check=False)
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    revoked = admin(config_path, "token", "revoke", token[:8])
    assert "revoked" in revoked.stdout
    again = admin(config_path, "token", "revoke", token[:8], check=False)
    assert again.returncode == 1 and "no active token" in again.stderr


def test_a_token_beginning_with_a_dash_is_revoked_by_its_prefix(config_path, tmp_path):
    token = "-" + "A" * 42
    token_file = tmp_path / "dash.token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    admin(config_path, "token", "ensure", "--user", "dash", "--token-file", str(token_file))
    revoked = admin(config_path, "token", "revoke", token[:8], check=False)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout, revoked.stderr
    unknown = admin(config_path, "token", "revoke", "-x", "-y", check=False)
    assert unknown.returncode == 2 and "unrecognized arguments" in unknown.stderr
    missing = admin(config_path, "token", "revoke", check=False)
    assert missing.returncode == 2 and "TOKEN_PREFIX_OR_ID" in missing.stderr


def test_bad_input_is_an_error_on_stderr(config_path, tmp_path):
    for args in (["user", "add", "../evil"], ["token", "revoke", "ab"],
                 ["token", "ensure", "--user", "x", "--token-file", str(tmp_path / "none")]):
        result = admin(config_path, *args, check=False)
        assert result.returncode != 0 and result.stderr, args
    short = tmp_path / "short.token"
    short.write_text("abc")
    result = admin(config_path, "service-token", "ensure", "worker", "--token-file", str(short),
                   check=False)
    assert result.returncode == 1 and "at least 43" in result.stderr
    missing = admin(str(tmp_path / "nope.toml"), "user", "list", check=False)
    assert missing.returncode == 1 and "cannot read config file" in missing.stderr


def test_ensure_commands_are_idempotent_and_rotate(config_path, tmp_path):
    token_file = tmp_path / "worker.token"
    token_file.write_text(secrets.token_urlsafe(32) + "\n")
    ensure = ["service-token", "ensure", "worker", "--token-file", str(token_file)]
    assert stateful(admin(config_path, *ensure))[0] == "yes"
    changed, comment = stateful(admin(config_path, *ensure))
    assert changed == "no" and comment.startswith("unchanged")
    user_file = tmp_path / "ops.token"
    user_file.write_text(secrets.token_urlsafe(32))
    user_ensure = ["token", "ensure", "--user", "ops", "--admin", "--token-file", str(user_file)]
    assert stateful(admin(config_path, *user_ensure))[0] == "yes"
    assert stateful(admin(config_path, *user_ensure))[0] == "no"
    with ApiServer(config_path) as api:
        old_worker = token_file.read_text().strip()
        assert requests.get(f"{api.url}/worker/jobs", headers={
            "Authorization": f"Bearer {old_worker}"}).status_code == 200
        token_file.write_text(secrets.token_urlsafe(32))
        assert stateful(admin(config_path, *ensure))[0] == "yes"
        assert requests.get(f"{api.url}/worker/jobs", headers={
            "Authorization": f"Bearer {old_worker}"}).status_code == 401
        assert requests.get(f"{api.url}/worker/jobs", headers={
            "Authorization": f"Bearer {token_file.read_text()}"}).status_code == 200
        assert requests.get(f"{api.url}/jobs", headers={
            "Authorization": f"Bearer {user_file.read_text()}"}).status_code == 200


def test_a_site_agents_token_is_for_one_cluster_in_pull_mode(tmp_path, database_url):
    config_path = write_config(tmp_path / "api.toml", database_url=database_url,
                               data_dir=str(tmp_path / "data"), clusters=["archer", "cirrus"],
                               default_cluster="archer", pull_clusters=["cirrus"])
    token_file = tmp_path / "site.token"
    token_file.write_text(secrets.token_urlsafe(32))
    ensure = ["site-token", "ensure", "--cluster", "cirrus", "--token-file", str(token_file)]
    assert stateful(admin(config_path, *ensure)) == (
        "yes", "installed the site agent token of cluster cirrus")
    assert stateful(admin(config_path, *ensure))[0] == "no"
    refused = admin(config_path, "site-token", "ensure", "--cluster", "archer",
                    "--token-file", str(token_file), check=False)
    assert refused.returncode == 1 and "'archer' is not in pull mode" in refused.stderr
    issued = admin(config_path, "site-token", "create", "--cluster", "cirrus").stdout.strip()
    with ApiServer(config_path) as api:
        for token in (token_file.read_text(), issued):
            answer = requests.get(f"{api.url}/site/commands",
                                  headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200 and answer.json() == {"commands": []}
        archer = requests.get(f"{api.url}/worker/jobs", params={"cluster": "archer"},
                              headers={"Authorization": f"Bearer {issued}"})
        assert archer.status_code == 403


def test_migrate_reports_salt_stateful_output(tmp_path):
    path = write_config(tmp_path / "fresh.toml", database_url=f"sqlite:///{tmp_path}/f.db",
                        data_dir=str(tmp_path / "d"))
    assert stateful(admin(path, "migrate"))[0] == "yes"
    assert stateful(admin(path, "migrate"))[0] == "no"
