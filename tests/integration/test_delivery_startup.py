"""The credentials key at start-up: missing or wrong stops `worker`/`serve` with one line naming
the variable; rotating it is a command; the embedded key file is private."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from typer.testing import CliRunner

from application.ports import CredentialsUnavailable
from bootstrap import Services, bootstrap
from infrastructure.settings import Settings
from interfaces.cli import app
from interfaces.http.auth import Role
from tests.integration.conftest import Tokens
from tests.integration.delivery_helpers import (
    delivery_settings,
    xl,  # noqa: F401 - fixture
    xl_connection,
)
from tests.standins.xledger import Xledger


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return delivery_settings(tmp_path)


def store_connection(client, org: Tokens, standin: Xledger, url: str) -> None:
    assert client.put(f"/v1/orgs/{org.org_id}/delivery/xledger", json=xl_connection(standin, url),
                      headers=org.header(Role.ADMIN)).status_code == 200


def test_worker_without_a_key_on_an_external_database_stops_naming_the_variable(
    db_url: str, tmp_path: Path
) -> None:
    result = CliRunner().invoke(app, ["worker"], env={
        "DATABASE_URL": db_url, "EXPORT_SERVICE_DATA_DIR": str(tmp_path / "other")})
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "EXPORT_SERVICE_CREDENTIALS_KEY is not set" in lines[0]


def test_a_key_that_does_not_decrypt_the_stored_credentials_stops_the_worker(
    client, org: Tokens, xl: tuple[Xledger, str], db_url: str, tmp_path: Path  # noqa: F811
) -> None:
    store_connection(client, org, *xl)
    key_path = tmp_path / "credentials-key"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    result = CliRunner().invoke(app, ["worker"], env={
        "DATABASE_URL": db_url, "EXPORT_SERVICE_CREDENTIALS_KEY": Fernet.generate_key().decode()})
    assert result.exit_code == 2
    assert "EXPORT_SERVICE_CREDENTIALS_KEY does not decrypt" in result.output
    assert key_path.read_text() not in result.output
    malformed = CliRunner().invoke(app, ["worker"], env={
        "DATABASE_URL": db_url, "EXPORT_SERVICE_CREDENTIALS_KEY": "not-a-key"})
    assert malformed.exit_code == 2 and "is not a valid key" in malformed.output


def test_serve_with_a_wrong_key_stops_before_serving_naming_the_variable(
    client, org: Tokens, xl: tuple[Xledger, str], db_url: str, tmp_path: Path  # noqa: F811
) -> None:
    store_connection(client, org, *xl)
    # An address no server can bind: were the check skipped, serve would fail, never hang.
    result = CliRunner().invoke(app, ["serve", "--host", "256.0.0.1"], env={
        "DATABASE_URL": db_url, "EXPORT_SERVICE_CREDENTIALS_KEY": Fernet.generate_key().decode()})
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "EXPORT_SERVICE_CREDENTIALS_KEY does not decrypt" in lines[0]


def test_rotating_the_key_re_encrypts_every_credential(
    services: Services, client, org: Tokens, xl: tuple[Xledger, str],  # noqa: F811
    db_url: str, tmp_path: Path,
) -> None:
    store_connection(client, org, *xl)
    old = (tmp_path / "credentials-key").read_text()
    new = CliRunner().invoke(app, ["credentials-key", "new"]).output.strip().splitlines()[-1]
    Fernet(new.encode())  # the command prints a usable key
    rotated = CliRunner().invoke(app, ["credentials-key", "rotate"], env={
        "DATABASE_URL": db_url, "EXPORT_SERVICE_CREDENTIALS_KEY": f"{new},{old}"})
    assert rotated.exit_code == 0, rotated.output
    assert "re-encrypted 1 credential(s)" in rotated.output

    def check(key: str) -> int:
        with_key = bootstrap(Settings(credentials_key=SecretStr(key), data_dir=tmp_path / "x",
                                      jwt_secret=SecretStr("j" * 40)), database_url=db_url)
        try:
            return with_key.check_credentials_key()
        finally:
            with_key.close()

    assert check(new) == 1
    with pytest.raises(CredentialsUnavailable):
        check(old)


def test_embedded_rotation_replaces_the_key_file(
    client, org: Tokens, xl: tuple[Xledger, str], db_url: str, tmp_path: Path  # noqa: F811
) -> None:
    """Embedded mode keeps the key in the data directory; `rotate` (called here as the command
    calls it, without starting an embedded server) leaves the file with the new key only."""
    from bootstrap import Operations

    store_connection(client, org, *xl)
    key_path = tmp_path / "credentials-key"
    old = key_path.read_text()
    count, replaced = Operations(db_url).rotate_credentials_key(
        Settings(data_dir=tmp_path, jwt_secret=SecretStr("j" * 40)))
    assert (count, replaced) == (1, True)
    assert key_path.read_text() != old and "," not in key_path.read_text()
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    fresh = bootstrap(Settings(data_dir=tmp_path, jwt_secret=SecretStr("j" * 40)),
                      database_url=db_url)
    try:
        assert fresh.check_credentials_key() == 1
    finally:
        fresh.close()
