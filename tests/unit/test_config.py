"""Config from the environment: working defaults, generated keys kept private, overrides."""

from __future__ import annotations

import stat

import pytest
from cryptography.fernet import Fernet

from watcher.config import Config


def test_defaults_generate_keys_once_and_keep_them_private(tmp_path):
    env = {"REPLYWATCH_INSTANCE_DIR": str(tmp_path / "inst")}
    first = Config.from_env(env)
    second = Config.from_env(env)
    assert first.secret_key == second.secret_key and len(first.secret_key) == 64
    assert first.encryption_keys == second.encryption_keys
    Fernet(first.encryption_keys[0])  # a valid key
    for name in ("secret_key", "encryption_key"):
        assert stat.S_IMODE((tmp_path / "inst" / name).stat().st_mode) == 0o600
    assert first.database_url == f"sqlite:///{tmp_path / 'inst' / 'replywatch.db'}"
    assert first.base_url == "http://127.0.0.1:8080"


def test_environment_overrides(tmp_path):
    k1, k2 = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    config = Config.from_env(
        {
            "REPLYWATCH_INSTANCE_DIR": str(tmp_path),
            "DATABASE_URL": "postgresql+psycopg://u@h/db",
            "REPLYWATCH_ENCRYPTION_KEYS": f"{k1}, {k2}",
            "REPLYWATCH_PORT": "9000",
            "REPLYWATCH_POLL_INTERVAL": "15",
            "REPLYWATCH_RUN_WATCHER_IN_APP": "no",
        }
    )
    assert config.database_url == "postgresql+psycopg://u@h/db"
    assert config.encryption_keys == (k1, k2)
    assert (config.port, config.poll_interval, config.run_watcher_in_app) == (9000, 15.0, False)
    assert config.base_url == "http://127.0.0.1:9000"


def test_bad_number_is_an_error(tmp_path):
    with pytest.raises(ValueError):
        Config.from_env({"REPLYWATCH_INSTANCE_DIR": str(tmp_path), "REPLYWATCH_PORT": "eighty"})


@pytest.mark.parametrize(
    ("allowed", "email", "expected"),
    [
        # Empty lists nobody: who may come in then is watcher.access's say (the owner only).
        pytest.param("", "anyone@anywhere.test", False, id="empty-lists-nobody"),
        pytest.param("a@x.test", "A@X.test", True, id="address-any-case"),
        pytest.param("a@x.test", "b@x.test", False, id="other-address"),
        pytest.param("@corp.test, a@x.test", "bob@corp.test", True, id="domain"),
        pytest.param("@corp.test", "bob@evilcorp.test", False, id="domain-is-exact"),
        pytest.param("@corp.test", "bob@sub.corp.test", False, id="no-subdomains"),
    ],
)
def test_allow_list(tmp_path, allowed, email, expected):
    config = Config.from_env(
        {"REPLYWATCH_INSTANCE_DIR": str(tmp_path), "REPLYWATCH_ALLOWED_USERS": allowed}
    )
    assert config.listed(email) is expected


def test_repr_hides_the_secret_key_encryption_keys_and_database_password(tmp_path):
    key = Fernet.generate_key().decode()
    config = Config.from_env(
        {
            "REPLYWATCH_INSTANCE_DIR": str(tmp_path),
            "DATABASE_URL": "postgresql+psycopg://rw:hunter2-db-pw@db.internal:5432/rw",
            "REPLYWATCH_SECRET_KEY": "flask-secret-key-value",
            "REPLYWATCH_ENCRYPTION_KEYS": key,
            "REPLYWATCH_GOOGLE_CLIENT_SECRET": "google-client-secret-value",
        }
    )
    text = repr(config)
    for secret in ("hunter2-db-pw", "flask-secret-key-value", key, "google-client-secret-value"):
        assert secret not in text, secret
    assert "postgresql+psycopg://rw:***@db.internal:5432/rw" in text
    assert "base_url='http://127.0.0.1:8080'" in text  # the rest stays readable
    assert config.redacted_database_url == "postgresql+psycopg://rw:***@db.internal:5432/rw"


def test_private_mail_hosts_are_refused_unless_the_operator_opts_in(tmp_path):
    base = {"REPLYWATCH_INSTANCE_DIR": str(tmp_path)}
    assert Config.from_env(base).allow_private_mail_hosts is False
    opted = Config.from_env({**base, "REPLYWATCH_ALLOW_PRIVATE_MAIL_HOSTS": "1"})
    assert opted.allow_private_mail_hosts is True
