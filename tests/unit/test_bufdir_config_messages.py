"""What an administrator is told on the (Norwegian) settings page when the Bufdir report's
configuration is refused: every refusal of domain/bufdir_config.py in the pages' words."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from domain.bufdir_config import (
    DEFAULT_CONFIG,
    ConfigLooserThanRules,
    check_against_rules,
    parse_config,
)
from interfaces.pages.i18n import Message, say
from interfaces.pages.messages import from_error, from_text


def base() -> dict[str, Any]:
    return copy.deepcopy(DEFAULT_CONFIG.model_dump(mode="json"))


def refused_document(change: Any) -> Message:
    data = base()
    change(data)
    with pytest.raises(ValidationError) as refused:
        parse_config(data)
    return from_error(refused.value.errors()[0])


def looser(change: Any) -> Message:
    data = base()
    change(data)
    with pytest.raises(ConfigLooserThanRules) as refused:
        check_against_rules(parse_config(data))
    return from_text(str(refused.value), refused.value.field)


CHANGES = {
    "no pattern": lambda d: d["columns"][1].update(date_format="dd.mm.yyyy"),
    "formula": lambda d: d["columns"][1].update(date_format="=%d"),
    "both": lambda d: d["columns"][0].update(constant="x"),
    "required_when without source": lambda d: d["columns"].append(
        {"header": "Fast", "constant": "1", "required_when": {"category": ["kurs"]}}),
    "duplicate": lambda d: d["columns"].append(dict(d["columns"][0])),
    "unknown source": lambda d: d["columns"].append({"header": "Ny", "source": "shoe_size"}),
    "unknown field": lambda d: d["columns"][0].update(required_when={"shoe_size": ["x"]}),
}
LOOSER = {
    "not peer work": lambda d: d["activity_types"]["arrangement"].update(category="samtale- og aktivitetsgruppe"),
    "participants": lambda d: d["activity_types"]["gruppemøte"].update(min_participants=0),
    "minutes": lambda d: d["activity_types"]["kurs"].update(min_minutes_per_day=1),
}


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_a_refused_document_is_explained_in_norwegian(name: str) -> None:
    message = refused_document(CHANGES[name])
    assert not message.foreign, (name, message)
    assert str(say("nb", message)) != str(say("en", message))


@pytest.mark.parametrize("name", sorted(LOOSER))
def test_a_configuration_looser_than_the_rules_is_explained_in_norwegian(name: str) -> None:
    message = looser(LOOSER[name])
    assert not message.foreign, (name, message)
    norwegian = str(say("nb", message))
    assert "etter" in norwegian and "under" not in norwegian, norwegian
