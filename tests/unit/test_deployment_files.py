"""The Dockerfile and compose.yaml: they parse, and every setting they pass exists (no drift)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from infrastructure.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)")


def setting_names() -> set[str]:
    prefix = Settings.model_config.get("env_prefix", "")
    names = set()
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        names.add(alias if isinstance(alias, str) else f"{prefix}{name}".upper())
    return names


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of each instruction, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, args = line.partition(" ")
            out.append((keyword.upper(), args.strip()))
    return out


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return data


def ours(services: dict[str, Any]) -> dict[str, Any]:
    return {name: s for name, s in services.items() if "build" in s}


def test_dockerfile_slim_base_non_root_entry_point_and_readiness_check() -> None:
    instructions = dockerfile()
    bases = [args for kw, args in instructions if kw == "FROM"]
    assert bases and all(re.match(r"python:3\.1[1-9]-slim\b", b) for b in bases), bases
    users = [args for kw, args in instructions if kw == "USER"]
    assert users and users[-1] not in ("root", "0")
    entry = json.loads(next(args for kw, args in instructions if kw == "ENTRYPOINT"))
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entry == ["export-service"] and "export-service" in scripts
    health = next(args for kw, args in instructions if kw == "HEALTHCHECK")
    exposed = next(args for kw, args in instructions if kw == "EXPOSE")
    command = json.loads(next(args for kw, args in instructions if kw == "CMD"))
    assert command[0] == "serve" and command[command.index("--port") + 1] == exposed
    assert f"127.0.0.1:{exposed}/readyz" in health


def test_dockerfile_copies_what_exists_and_sets_only_known_settings() -> None:
    instructions = dockerfile()
    for kw, args in instructions:
        if kw == "COPY" and not args.startswith("--from"):
            *sources, _ = args.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    env_names = {
        pair.split("=", 1)[0]
        for kw, args in instructions
        if kw == "ENV"
        for pair in args.split()
    }
    foreign = {n for n in env_names if not n.startswith(("PYTHON", "PIP_"))}
    assert foreign and foreign <= setting_names(), foreign - setting_names()


def test_compose_runs_postgres_one_api_and_two_workers_sharing_storage() -> None:
    services = compose()["services"]
    commands = {name: s["command"][0] for name, s in ours(services).items()}
    assert sorted(commands.values()) == ["serve", "worker", "worker"]
    assert any(str(s.get("image", "")).startswith("postgres:") for s in services.values())
    storages = {s["environment"]["EXPORT_SERVICE_STORAGE_URL"] for s in ours(services).values()}
    assert len(storages) == 1
    path = storages.pop().removeprefix("file://")
    for service in ours(services).values():
        volume = next(v for v in service["volumes"] if v.endswith(":" + path))
        assert volume.split(":")[0] in compose()["volumes"]  # a named volume, not a container dir
    secrets = {s["environment"]["EXPORT_SERVICE_JWT_SECRET"] for s in ours(services).values()}
    assert len(secrets) == 1 and ":?" in secrets.pop()  # shared, and required


def test_compose_passes_only_settings_the_service_reads() -> None:
    services = compose()["services"]
    known = setting_names()
    postgres_env = {k for s in services.values() if "build" not in s for k in s.get("environment", {})}
    for name, service in ours(services).items():
        environment = service["environment"]
        assert set(environment) <= known, (name, set(environment) - known)
        for value in environment.values():
            for variable in INTERPOLATION.findall(str(value)):
                assert variable in known | postgres_env, (name, variable)


def test_operations_guide_names_every_setting() -> None:
    guide = (ROOT / "docs" / "operations.md").read_text()
    missing = sorted(n for n in setting_names() if f"`{n}`" not in guide)
    assert not missing, missing


def test_compose_checks_each_worker_on_its_own_health_port() -> None:
    for name, service in ours(compose()["services"]).items():
        command = service["command"]
        if command[0] != "worker":
            continue
        port = command[command.index("--health-port") + 1]
        assert f"127.0.0.1:{port}/readyz" in " ".join(service["healthcheck"]["test"]), name
