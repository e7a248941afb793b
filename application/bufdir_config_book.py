"""An organisation's Bufdir configuration: change it (audited, versioned), read it, load it
for an export (the `ConfigLoader` port of application.ports)."""

from __future__ import annotations

from uuid import UUID

from application.ports import EventStore, NotFound
from application.runs import owned, retry_on_conflict
from domain.bufdir_config import (
    DEFAULT_CONFIG,
    BufdirConfigDocument,
    check_against_rules,
    parse_config,
)
from domain.bufdir_config_aggregate import BufdirConfig, config_id
from domain.shared import Actor

#: The version an export records when the organisation has no configuration of its own.
DEFAULT_VERSION = 0


class BufdirConfigBook:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    @retry_on_conflict()
    def configure(
        self, org_id: UUID, document: BufdirConfigDocument, actor: Actor
    ) -> tuple[int, BufdirConfigDocument]:
        """Record the document as the organisation's new version (ConfigUnchanged if equal);
        one that would count more than the counting rules allow is refused, naming the field."""
        check_against_rules(document)
        config: BufdirConfig
        try:
            config = self._get(org_id)
        except NotFound:
            config = BufdirConfig.create(org_id, document, actor)
        else:
            config.change(document, actor)
        self.store.save(config)
        return config.version, config.parsed

    def _get(self, org_id: UUID, version: int | None = None) -> BufdirConfig:
        return owned(self.store, BufdirConfig, org_id, config_id(org_id), version)

    def current(self, org_id: UUID) -> tuple[int, BufdirConfigDocument]:
        """The organisation's configuration and its version; the default one as version 0."""
        return self.load(org_id, None)

    def load(self, org_id: UUID, version: int | None) -> tuple[int, BufdirConfigDocument]:
        """(version, document): `None` for the current one; 0 is the default configuration."""
        if version == DEFAULT_VERSION:
            return DEFAULT_VERSION, DEFAULT_CONFIG
        try:
            config = self._get(org_id, version)
        except NotFound:
            if version is None:
                return DEFAULT_VERSION, DEFAULT_CONFIG
            raise
        return config.version, parse_config(config.document)
