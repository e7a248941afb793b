"""The command line: migrate, token and db-url against a real database."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import jwt
from typer.testing import CliRunner

from interfaces.cli import app


def env(url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": url, "EXPORT_SERVICE_DATA_DIR": str(tmp_path), **extra}


def test_migrate_applies_then_reports_up_to_date(empty_db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["migrate"], env=env(empty_db_url, tmp_path))
    assert first.exit_code == 0 and first.stdout.startswith("applied: 0001_")
    second = runner.invoke(app, ["migrate"], env=env(empty_db_url, tmp_path))
    assert (second.exit_code, second.stdout.strip()) == (0, "database is up to date")


def test_token_is_signed_with_the_configured_key(tmp_path: Path) -> None:
    org = uuid4()
    result = CliRunner().invoke(
        app, ["token", "--org", str(org), "--role", "auditor", "--sub", "kari", "--hours", "2"],
        env={"EXPORT_SERVICE_JWT_SECRET": "k" * 40, "EXPORT_SERVICE_DATA_DIR": str(tmp_path)},
    )
    assert result.exit_code == 0
    claims = jwt.decode(result.output.strip(), "k" * 40, algorithms=["HS256"])
    assert (claims["org_id"], claims["role"], claims["sub"]) == (str(org), "auditor", "kari")
    assert claims["exp"] - claims["iat"] == 2 * 3600
    bad = CliRunner().invoke(app, ["token", "--org", str(org), "--role", "owner"],
                             env={"EXPORT_SERVICE_JWT_SECRET": "k" * 40})
    assert bad.exit_code == 2


def test_token_without_a_configured_key_uses_the_one_kept_in_the_data_dir(tmp_path: Path) -> None:
    org = str(uuid4())
    runner = CliRunner()
    one = runner.invoke(app, ["token", "--org", org], env={"EXPORT_SERVICE_DATA_DIR": str(tmp_path)})
    key = (tmp_path / "jwt-secret").read_text().strip()
    assert jwt.decode(one.output.strip(), key, algorithms=["HS256"])["org_id"] == org
    assert oct((tmp_path / "jwt-secret").stat().st_mode & 0o777) == "0o600"


def test_db_url_hides_the_password(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["db-url"], env=env("postgresql://svc:s3cret@db.example:5432/export", tmp_path)
    )
    assert result.output.strip() == "postgresql://svc:***@db.example:5432/export"


def test_migrate_status_lists_applied_and_pending_and_changes_nothing(
    empty_db_url: str, tmp_path: Path
) -> None:
    import psycopg

    from infrastructure.migrations import all_migrations

    runner = CliRunner()
    before = runner.invoke(app, ["migrate", "--status"], env=env(empty_db_url, tmp_path))
    assert before.exit_code == 0, before.output
    names = [name for _, name, _ in all_migrations()]
    assert before.stdout.splitlines()[-1] == f"0 applied, {len(names)} pending, 0 changed"
    with psycopg.connect(empty_db_url) as conn:
        assert conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,)
    runner.invoke(app, ["migrate"], env=env(empty_db_url, tmp_path))
    with psycopg.connect(empty_db_url) as conn:
        conn.execute("DELETE FROM schema_migrations WHERE name = %s", (names[-1],))
    after = runner.invoke(app, ["migrate", "--status"], env=env(empty_db_url, tmp_path))
    lines = after.stdout.splitlines()
    assert lines[-1] == f"{len(names) - 1} applied, 1 pending, 0 changed"
    assert [line.split()[1] for line in lines[1:-1]] == ["applied"] * (len(names) - 1) + ["pending"]
    assert lines[-2].split()[-1] == names[-1]


def test_an_edited_applied_migration_stops_migrate_and_the_worker(
    empty_db_url: str, tmp_path: Path
) -> None:
    import psycopg

    runner = CliRunner()
    assert runner.invoke(app, ["migrate"], env=env(empty_db_url, tmp_path)).exit_code == 0
    # What the ledger holds for 0001 no longer matches the file: as if the file had been edited.
    with psycopg.connect(empty_db_url) as conn:
        (name,) = conn.execute(
            "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1 RETURNING name"
        ).fetchone() or ("",)
    status = runner.invoke(app, ["migrate", "--status"], env=env(empty_db_url, tmp_path))
    assert status.exit_code == 1 and status.stdout.splitlines()[1].split()[1] == "changed"
    assert status.stdout.splitlines()[-1].endswith("1 changed")
    for command in (["migrate"], ["worker", "--concurrency", "1"]):
        result = runner.invoke(app, command, env=env(empty_db_url, tmp_path))
        assert result.exit_code == 1, (command, result.output)
        assert f"applied migration(s) changed since they were applied: {name}" in result.output
        assert "new migration" in result.output
