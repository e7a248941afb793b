"""The audit chain's canonical bytes, written out by hand for speed, are exactly the compact
JSON the chain has always committed to (links made before stay verifiable)."""

from __future__ import annotations

import hashlib
import json
from uuid import UUID, uuid4

from hypothesis import given
from hypothesis import strategies as st

from infrastructure.projections.audit_chain import canonical


def reference(nid: int, originator_id: UUID | str, version: int, topic: str, state: bytes) -> bytes:
    return json.dumps(
        [int(nid), str(UUID(str(originator_id))), int(version), topic,
         hashlib.sha256(bytes(state)).hexdigest()],
        separators=(",", ":"),
    ).encode("utf-8")


@given(
    nid=st.integers(min_value=1, max_value=2**62),
    version=st.integers(min_value=1, max_value=2**31),
    topic=st.text(max_size=80),
    state=st.binary(max_size=200),
    as_text=st.booleans(),
)
def test_canonical_bytes_equal_the_compact_json(
    nid: int, version: int, topic: str, state: bytes, as_text: bool
) -> None:
    originator = uuid4()
    given_id: UUID | str = str(originator).upper() if as_text else originator
    assert canonical(nid, given_id, version, topic, state) == reference(
        nid, originator, version, topic, state)


def test_a_known_event_gives_its_known_bytes() -> None:
    got = canonical(7, UUID(int=1), 2, 'domain.x:"Run".Started', b"{}")
    assert got == (b'[7,"00000000-0000-0000-0000-000000000001",2,'
                   b'"domain.x:\\"Run\\".Started","' + hashlib.sha256(b"{}").hexdigest().encode()
                   + b'"]')
