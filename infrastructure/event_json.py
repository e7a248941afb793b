"""Events encoded by msgspec into exactly the bytes the event library's own JSON transcoder
writes: compact, UTF-8, every registered type as `{"_type_": name, "_data_": …}`.

The library's encoder calls back into Python for every id, date and timestamp of an event
(`json.JSONEncoder`'s `default`); with 8 writers that cost a few percent of the append rate.
Here the registered types are replaced first, in one walk, and msgspec writes the rest. A value
the walk does not know as the library would write it (a float, a subclass of a built-in type, a
key that is not text, a type with no transcoding) has the whole event written by the library's
encoder instead, so nothing is ever written differently. Reading is the library's.
"""

from __future__ import annotations

from typing import Any

import msgspec
from eventsourcing.persistence import JSONTranscoder

#: Written as they are, by both encoders alike (matched by exact type: a subclass, such as an
#: enum, goes to the library's encoder).
_AS_THEY_ARE = (str, int, bool, type(None))


class _NotPlain(Exception):
    """A value msgspec might write differently from the library's encoder."""


class EventJSON(JSONTranscoder):
    """The library's JSON transcoder, encoding through msgspec."""

    def __init__(self) -> None:
        super().__init__()
        self._msgspec = msgspec.json.Encoder()

    def encode(self, obj: Any) -> bytes:
        try:
            plain = self._plain(obj)
        except _NotPlain:
            return super().encode(obj)
        return self._msgspec.encode(plain)

    def _plain(self, value: Any) -> Any:
        """`value` with every registered type replaced by its `_type_`/`_data_` object."""
        kind = type(value)
        if kind in _AS_THEY_ARE:
            return value
        if kind is dict:
            plain = {}
            for key, item in value.items():
                if type(key) is not str:
                    raise _NotPlain
                plain[key] = self._plain(item)
            return plain
        if kind is list or kind is tuple:
            return [self._plain(item) for item in value]
        transcoding = self.types.get(kind)
        if transcoding is None:
            raise _NotPlain
        return {"_type_": transcoding.name, "_data_": self._plain(transcoding.encode(value))}
