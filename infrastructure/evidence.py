"""The evidence bundle of one export run: everything an auditor needs to check it offline.

The zip holds the run's events (decoded and as stored), the exported file with its sha256, the
claims the run took, and the audit chain links of the run's events with the organisation's head,
so the links can be recomputed from the stored bytes without access to the service.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from application.delivery import delivery_in_history
from application.export_runs import claims_in_history
from application.ports import FileStorage
from infrastructure.audit import head
from infrastructure.event_store import EVENTS_TABLE, PostgresEventStore
from infrastructure.projections.audit_chain import genesis
from infrastructure.sql.composed import composed

SQL = composed("audit", events=EVENTS_TABLE)

README = """Evidence bundle for export run {run_id} of organisation {org_id}
Built {built_at}.

Files
  events.json         the run's events as the service reads them (version, type, timestamp,
                      actor, data)
  events_stored.jsonl the same events exactly as stored in PostgreSQL (table {table}), one JSON
                      object per line; "state" is the stored bytes as UTF-8 text
  {file_name:<19} the exported file; file.sha256 holds its sha256 (hex)
  claims.json         the claims the run took, with their amounts (from its ClaimsTaken events)
  delivery.json       (with delivery by API) each delivery event and the key of every line
                      posted to the accounting system (document|reference|account|amount)
  chain.json          the audit chain link of each of these events, the link before it
                      ("prev_link"), and the organisation's head hash and event count when the
                      bundle was built

How to check it offline
  1. sha256sum {file_name} must equal file.sha256 (and the file's sha256 in the Completed event).
  2. Recompute every link from events_stored.jsonl:
       link = sha256( prev_link as ASCII hex
                      || compact JSON [notification_id, originator_id, originator_version,
                                       topic, sha256_hex(state bytes)] )
     The first link of an organisation follows sha256("export-service:" + org_id).
  3. Compare the head in chain.json with a head hash you noted earlier (e.g. from
     `export-service verify` or GET /v1/orgs/{{org}}/audit/verify): a later head only grows,
     so an earlier bundle's links must still be found in the chain.

Python 3, run in the unzipped folder (prints one "ok" per event, then True):
  import hashlib, json
  def link(prev, nid, oid, ver, topic, state):
      body = json.dumps([nid, oid, ver, topic, hashlib.sha256(state).hexdigest()],
                        separators=(",", ":")).encode()
      return hashlib.sha256(prev.encode("ascii") + body).hexdigest()
  chain = {{e["notification_id"]: e for e in json.load(open("chain.json"))["links"]}}
  for line in open("events_stored.jsonl", encoding="utf-8"):
      r = json.loads(line)
      c = chain[r["notification_id"]]
      got = link(c["prev_link"], r["notification_id"], r["originator_id"],
                 r["originator_version"], r["topic"], r["state"].encode("utf-8"))
      print(r["notification_id"], "ok" if got == c["link"] else "MISMATCH")
  print(hashlib.sha256(open("{file_name}", "rb").read()).hexdigest()
        == open("file.sha256").read().split()[0])
"""


def _dump(value: Any) -> bytes:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str).encode("utf-8")


def _stored_rows(conn: psycopg.Connection[Any], run_id: UUID) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(SQL["run_rows"], {"run_id": run_id}).fetchall()
    return [
        {
            "notification_id": r["notification_id"],
            "originator_id": str(r["originator_id"]),
            "originator_version": r["originator_version"],
            "topic": r["topic"],
            "state": bytes(r["state"]).decode("utf-8"),
        }
        for r in rows
    ]


def _chain(conn: psycopg.Connection[Any], org_id: UUID, run_id: UUID) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        links = cur.execute(SQL["run_links"], {"org_id": org_id, "run_id": run_id}).fetchall()
    count, head_link = head(conn, org_id)
    return {
        "org_id": str(org_id),
        "genesis": genesis(org_id),
        "links": [
            {
                "seq": r["seq"],
                "notification_id": r["notification_id"],
                "originator_version": r["originator_version"],
                "prev_link": r["prev_link"] if r["seq"] > 1 else genesis(org_id),
                "link": r["link"],
            }
            for r in links
        ],
        "head": {"events": count, "link": head_link},
    }


def build_evidence_zip(
    conn: psycopg.Connection[Any],
    store: PostgresEventStore,
    files: FileStorage,
    org_id: UUID,
    run_id: UUID,
) -> bytes:
    """The bundle as zip bytes of a run of `org_id` (application.audit checks that first)."""
    events = store.history(run_id)
    by_type = {e.type: e for e in events}
    completed = by_type.get("Completed")
    file_info: dict[str, Any] | None = completed.data.get("file") if completed else None

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("events.json", _dump([dataclasses.asdict(e) for e in events]))
        rows = _stored_rows(conn, run_id)
        zf.writestr(
            "events_stored.jsonl",
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8"),
        )
        zf.writestr("claims.json", _dump(claims_in_history(events)))
        delivery = delivery_in_history(events)
        if delivery is not None:
            zf.writestr("delivery.json", _dump(delivery))
        file_name = "(no file)"
        if file_info is not None:
            file_name = "file/" + str(file_info["path"]).rsplit("/", 1)[-1]
            digest = hashlib.sha256()
            with files.open(file_info["path"]) as src, zf.open(file_name, "w") as dst:
                for chunk in iter(lambda: src.read(1 << 16), b""):
                    digest.update(chunk)
                    dst.write(chunk)
            zf.writestr("file.sha256", f"{digest.hexdigest()}  {file_name}\n")
        zf.writestr("chain.json", _dump(_chain(conn, org_id, run_id)))
        zf.writestr(
            "README.txt",
            README.format(
                run_id=run_id, org_id=org_id, table=EVENTS_TABLE, file_name=file_name,
                built_at=datetime.now(UTC).isoformat(timespec="seconds"),
            ),
        )
    return buffer.getvalue()
