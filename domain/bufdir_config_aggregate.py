"""BufdirConfig: the audited, versioned history of one organisation's Bufdir configuration.

Every change records the whole validated document and who made it, so any export can name the
exact configuration version it was built with and that version can be read back later.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.bufdir_config import BufdirConfigDocument, parse_config
from domain.shared import Actor, DomainError

CONFIG_NAMESPACE = uuid5(NAMESPACE_URL, "https://export-service/bufdir-config")


class ConfigUnchanged(DomainError):
    """The submitted document equals the current one; no new version is recorded."""

    code = "config_unchanged"


def config_id(org_id: UUID) -> UUID:
    """One configuration aggregate per organisation, found without an index."""
    return uuid5(CONFIG_NAMESPACE, str(org_id))


class BufdirConfig(Aggregate):
    """Versioned configuration document; `version` is the config_version exports record."""

    @staticmethod
    def create_id(org_id: UUID) -> UUID:
        return config_id(org_id)

    @event("Created")
    def __init__(self, org_id: UUID, document: dict[str, Any], actor: dict[str, str]) -> None:
        self.org_id = org_id
        self.document = document
        self.changed_by = actor

    @classmethod
    def create(cls, org_id: UUID, document: BufdirConfigDocument, actor: Actor) -> BufdirConfig:
        return cls(
            org_id=org_id, document=document.model_dump(mode="json"), actor=actor.as_event_data()
        )

    @property
    def parsed(self) -> BufdirConfigDocument:
        return parse_config(self.document)

    def change(self, document: BufdirConfigDocument, actor: Actor) -> None:
        data = document.model_dump(mode="json")
        if data == self.document:
            raise ConfigUnchanged("the configuration is unchanged")
        self._changed(document=data, actor=actor.as_event_data())

    @event("Changed")
    def _changed(self, document: dict[str, Any], actor: dict[str, str]) -> None:
        self.document = document
        self.changed_by = actor
