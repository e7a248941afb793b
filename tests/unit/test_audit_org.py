"""Which organisation's chain an event joins is read from its payload with a fast decoder that
looks only at `actor` and `org_id`; it must name the same organisation as reading the whole
document with the standard library does, for any payload, well-formed or not."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID, uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from infrastructure.projections.audit_chain import org_of

KEYS = st.sampled_from(["actor", "org_id", "_data_", "_type_", "timestamp", "x", "org"])
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS | st.text(max_size=4),
                                                                  inner, max_size=3),
    max_leaves=8,
)


def uuid_forms(u: UUID) -> st.SearchStrategy[Any]:
    text = st.sampled_from([str(u), u.hex, str(u).upper(), f"{{{u}}}", f"urn:uuid:{u}",
                            str(u)[:-1], "not-a-uuid"])
    return text | st.fixed_dictionaries({"_type_": st.just("uuid_hex"), "_data_": text})


@st.composite
def payloads(draw: st.DrawFn) -> bytes:
    """JSON documents shaped like stored events (an actor, an org_id, other fields), dumped in
    several styles (NaN included, as the standard encoder allows), sometimes damaged."""
    org = uuid_forms(uuid4())
    doc = draw(st.dictionaries(KEYS, VALUES, max_size=4))
    if draw(st.booleans()):
        doc["org_id"] = draw(org | VALUES)
    if draw(st.booleans()):
        doc["actor"] = draw(st.fixed_dictionaries({"sub": st.text(max_size=4)},
                                                  optional={"org_id": org | VALUES}) | VALUES)
    top = draw(st.sampled_from(["dict", "dict", "dict", "list", "scalar"]))
    value: Any = doc if top == "dict" else [doc] if top == "list" else draw(SCALARS)
    text = json.dumps(value, ensure_ascii=draw(st.booleans()),
                      separators=draw(st.sampled_from([(",", ":"), (", ", ": ")])))
    data = text.encode("utf-8")
    if draw(st.booleans()):  # damage it: a byte inserted, replaced or removed
        at = draw(st.integers(0, len(data)))
        byte = bytes([draw(st.integers(0, 255))])
        how = draw(st.sampled_from(["insert", "replace", "remove"]))
        rest = data[at + (how != "insert"):]
        data = data[:at] + (b"" if how == "remove" else byte) + rest
    return data


def by_reading_everything(state: bytes) -> UUID | None:
    """The rule, stated with the standard library: `actor.org_id`, else `org_id` (either may be
    wrapped as {"_type_": "uuid_hex", "_data_": ...}); None when nothing names one."""
    try:
        data = json.loads(state.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    actor = data.get("actor")
    for value in (actor.get("org_id") if isinstance(actor, dict) else None, data.get("org_id")):
        if isinstance(value, dict):
            value = value.get("_data_")
        if isinstance(value, str):
            try:
                return UUID(value)
            except ValueError:
                continue
    return None


@settings(max_examples=1500, deadline=None)
@given(payloads())
def test_the_organisation_is_the_one_the_whole_document_names(state: bytes) -> None:
    assert org_of(state) == by_reading_everything(state)


def test_a_stored_event_names_its_actors_organisation() -> None:
    actor_org, run_org = uuid4(), uuid4()
    state = json.dumps({"org_id": {"_type_": "uuid_hex", "_data_": run_org.hex},
                        "actor": {"sub": "u", "org_id": str(actor_org)}}).encode()
    assert org_of(state) == actor_org
    assert org_of(state.replace(b'"actor"', b'"other"')) == run_org
    assert org_of(b'{"org_id": NaN, "actor": {"org_id": "%s"}}' % str(actor_org).encode()) \
        == actor_org
