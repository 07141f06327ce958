"""Generated secrets and tokens never begin with '-' (one in 64 of secrets.token_urlsafe
values would), so no command takes one for an option."""
import importlib.util
import random
import secrets as secrets_module

from raycrafter_api import auth
from support.salt_tree import REPOSITORY


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
