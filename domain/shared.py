"""Value objects and errors shared by every aggregate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any
from uuid import UUID

from transitions import Machine
from uuid_utils.compat import uuid7


def new_id() -> UUID:
    """A new run's id: time-ordered (UUID version 7, RFC 9562), so the rows keyed by it (the
    event store's, the guard tables', the read models') are added at the end of their indexes,
    not on a random page of each; and made without a system call (a random UUID's
    `os.urandom` lets every other thread of the process take the interpreter first)."""
    return uuid7()


class DomainError(Exception):
    """A rule of the domain refused a command; nothing was recorded."""

    code = "domain_error"


class TransitionNotAllowed(DomainError):
    """The lifecycle table has no move for this command from the current status."""

    code = "transition_not_allowed"

    def __init__(self, aggregate: str, command: str, status: str) -> None:
        super().__init__(f"{aggregate} in status '{status}' does not allow '{command}'")
        self.aggregate = aggregate
        self.command = command
        self.status = status


class InvalidPeriod(DomainError):
    code = "invalid_period"


@dataclass(frozen=True)
class Actor:
    """Who asked for a change: the token's subject and organisation, and the request id."""

    sub: str
    org_id: UUID
    correlation_id: str

    def as_event_data(self) -> dict[str, str]:
        return {"sub": self.sub, "org_id": str(self.org_id), "correlation_id": self.correlation_id}


@dataclass(frozen=True)
class Period:
    """An inclusive date range, e.g. one accounting month."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise InvalidPeriod("period_end must not be before period_start")

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def overlaps(self, other: Period) -> bool:
        return self.start <= other.end and other.start <= self.end


class Lifecycle:
    """One `transitions` table of allowed moves, consulted by commands before they record an event.

    The machine is used as data only (no model is bound), so replaying events never consults it.
    """

    def __init__(
        self, aggregate: str, states: type[Enum], moves: list[tuple[str, Any, Any]]
    ) -> None:
        self.aggregate = aggregate
        self.states = states
        self.machine = Machine(
            model=None,
            states=[s.value for s in states],
            transitions=[
                {
                    "trigger": trigger,
                    "source": [s.value for s in source]
                    if isinstance(source, list | tuple)
                    else source.value,
                    "dest": dest.value,
                }
                for trigger, source, dest in moves
            ],
            initial=None,
            auto_transitions=False,
        )

    @property
    def commands(self) -> list[str]:
        return sorted(self.machine.get_triggers(*[s.value for s in self.states]))

    def target(self, command: str, status: Enum) -> Enum:
        """The status `command` leads to from `status`, or TransitionNotAllowed."""
        moves = self.machine.get_transitions(trigger=command, source=status.value)
        if not moves:
            raise TransitionNotAllowed(self.aggregate, command, status.value)
        return self.states(moves[0].dest)

    def allows(self, command: str, status: Enum) -> bool:
        return bool(self.machine.get_transitions(trigger=command, source=status.value))
