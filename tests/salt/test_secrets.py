"""The deployment's generated secrets: made from the catalogue, kept encrypted to the
master's key (a copy of the pillar directory reveals nothing), stable across runs, and
never beginning with '-' (one in 64 of secrets.token_urlsafe values would), so no command
takes one for an option."""
import importlib.util
import random
import secrets as secrets_module
import stat
import subprocess

import pytest
import yaml

from raycrafter_api import auth
from support.salt_tree import CATALOGUE, REPOSITORY, make_pillar, stop_gpg_agent


def load_generator():
    spec = importlib.util.spec_from_file_location(
        "generate_secrets", REPOSITORY / "pillar" / "generate_secrets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_generated_secret_or_token_begins_with_a_dash(monkeypatch):
    # A source that begins every other value with '-' makes the retry visible at once.
    values = iter(f"{'-' if i % 2 == 0 else 'A'}{random.random()}" for i in range(10_000))
    monkeypatch.setattr(secrets_module, "token_urlsafe", lambda size: next(values))
    generator = load_generator()
    produced = [generator.new_token() for _ in range(100)] + [auth.new_token()
                                                               for _ in range(100)]
    assert all(not value.startswith("-") for value in produced)


def test_real_tokens_are_long_and_distinct():
    generator = load_generator()
    produced = {generator.new_token() for _ in range(2000)} | {auth.new_token()
                                                               for _ in range(2000)}
    assert len(produced) == 4000 and all(len(v) >= 43 for v in produced)
    assert not any(v.startswith("-") for v in produced)


def gpg_decrypt(keydir, message):
    return subprocess.run(["gpg", "--batch", "--quiet", "--homedir", str(keydir), "--decrypt"],
                          input=message, capture_output=True, text=True)


def record_of(pillar_dir):
    return yaml.safe_load((pillar_dir / "secrets.sls").read_text())["raycrafter_secrets"]


def plain_record(pillar_dir, keydir):
    plain = {}
    for key, message in record_of(pillar_dir).items():
        decrypted = gpg_decrypt(keydir, message)
        assert decrypted.returncode == 0, decrypted.stderr
        plain[key] = decrypted.stdout
    return plain


@pytest.fixture
def generated(tmp_path):
    pillar_dir, keydir = tmp_path / "pillar", tmp_path / "gpg"
    make_pillar(pillar_dir, keydir, {"web-1": ["web"]})
    yield pillar_dir, keydir
    stop_gpg_agent(keydir)


def test_the_catalogues_secrets_are_made_and_each_role_file_holds_its_roles(generated):
    pillar_dir, keydir = generated
    made = {key for name, spec in CATALOGUE["secrets"].items()
            for key in load_generator().KINDS[spec["kind"]][0](name)}
    assert set(record_of(pillar_dir)) == made
    for role, spec in CATALOGUE["roles"].items():
        text = (pillar_dir / "secrets" / f"{role}.sls").read_text()
        assert text.startswith("#!yaml|gpg\n")
        assert set(yaml.safe_load(text)["raycrafter_secrets"]) == set(spec["secrets"])


def test_a_copy_of_the_pillar_directory_reveals_no_secret(generated, tmp_path):
    """Every value is a PGP message to the master's key, kept outside the pillar
    directory: no plaintext line of any secret is in any file there, and without the key
    nothing decrypts."""
    pillar_dir, keydir = generated
    plain = plain_record(pillar_dir, keydir)
    lines = {line for value in plain.values() for line in value.splitlines()
             if len(line) >= 16 and "-----" not in line}
    assert len(lines) > 20
    for path in pillar_dir.rglob("*"):
        if path.is_file():
            content = path.read_text()
            assert not [line for line in lines if line in content], path
    assert not keydir.is_relative_to(pillar_dir)
    assert stat.S_IMODE(keydir.stat().st_mode) == 0o700
    stranger = tmp_path / "stranger"
    stranger.mkdir(mode=0o700)
    refused = gpg_decrypt(stranger, record_of(pillar_dir)["api_admin_token"])
    stop_gpg_agent(stranger)
    assert refused.returncode != 0 and not refused.stdout


def test_a_second_run_changes_nothing_and_a_plaintext_record_is_encrypted_in_place(generated):
    pillar_dir, keydir = generated
    files = {path: path.read_bytes() for path in pillar_dir.rglob("*.sls")}
    plain = plain_record(pillar_dir, keydir)
    make_pillar(pillar_dir, keydir, {"web-1": ["web"]})
    assert {path: path.read_bytes() for path in pillar_dir.rglob("*.sls")} == files
    # A record from before the values were encrypted: the same values, encrypted.
    (pillar_dir / "secrets.sls").write_text(yaml.safe_dump({"raycrafter_secrets": plain}))
    make_pillar(pillar_dir, keydir, {"web-1": ["web"]})
    assert all(value.startswith("-----BEGIN PGP MESSAGE-----")
               for value in record_of(pillar_dir).values())
    assert plain_record(pillar_dir, keydir) == plain


def test_salt_decrypts_a_roles_secrets_with_the_masters_key(role_minions, example_pillar_dir,
                                                           gpg_keydir):
    ret = role_minions["web"].salt_call_cli().run(
        "--local", "pillar.get", "raycrafter_secrets:api_admin_token", "unmask=True")
    assert ret.returncode == 0, ret.stderr
    assert ret.data == plain_record(example_pillar_dir, gpg_keydir)["api_admin_token"]
