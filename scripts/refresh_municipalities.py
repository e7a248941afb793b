"""Refresh the shipped municipality data from Statistics Norway's classification API (KLASS).

Run by hand when SSB publishes a change (usually for 1 January), review the diff, commit:

    python scripts/refresh_municipalities.py            # writes domain/data/*.csv
    python scripts/refresh_municipalities.py --check    # only says whether anything changed

It reads classification 131 (municipalities) and 104 (counties): every code with its validity
since 2018-01-01 and SSB's change table (old code → new code, date). Names are SSB's own
("Herøy (Møre og Romsdal)", Sami parallel names). Tests never run this; it needs the network.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from typing import Any

API = "https://data.ssb.no/api/klass/v1/classifications"
COVERAGE_FROM = date(2018, 1, 1)
DATA = Path(__file__).resolve().parents[1] / "domain" / "data"
CODES_FILE = DATA / "municipalities.csv"
CHANGES_FILE = DATA / "municipality_changes.csv"


def fetch(path: str, **params: str) -> dict[str, Any]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    request = urllib.request.Request(  # noqa: S310 - a fixed https host
        f"{API}/{path}?{query}", headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - fixed host
        data: dict[str, Any] = json.load(response)
    return data


def code_rows(kind: str, classification: str, today: date) -> list[str]:
    """`kind;code;name;valid_from;valid_to` with inclusive ISO dates; empty = open end.
    KLASS gives validTo as the first day no longer valid, so one day is taken off."""
    end = today + timedelta(days=1)
    items = fetch(f"{classification}/codes", **{"from": COVERAGE_FROM.isoformat(),
                                               "to": end.isoformat()})["codes"]
    rows = []
    for item in items:
        start = item.get("validFromInRequestedRange") or item.get("validFrom") or ""
        stop = item.get("validToInRequestedRange") or item.get("validTo") or ""
        valid_from = "" if not start or date.fromisoformat(start) <= COVERAGE_FROM else start
        valid_to = ""
        if stop and date.fromisoformat(stop) < end:
            valid_to = (date.fromisoformat(stop) - timedelta(days=1)).isoformat()
        rows.append(f"{kind};{item['code']};{item['name']};{valid_from};{valid_to}")
    return sorted(set(rows), key=lambda r: (r.split(";")[0] != "county", r.split(";")[1], r))


def change_rows(today: date) -> list[str]:
    changes = fetch("131/changes", **{"from": COVERAGE_FROM.isoformat(),
                                      "to": today.isoformat()})["codeChanges"]
    rows = {f"{c['oldCode']};{c['newCode']};{c['changeOccurred']}"
            for c in changes if c.get("oldCode") and c.get("newCode")
            and c["oldCode"] != c["newCode"]}
    return sorted(rows, key=lambda r: (r.split(";")[2], r))


def codes_text(rows: list[str], today: date) -> str:
    return (
        "# Norwegian municipality and county numbers with validity ranges (inclusive, ISO dates).\n"
        "# Empty valid_from: in use before this table's coverage begins; empty valid_to: still valid.\n"
        "# Source: Statistics Norway, KLASS classification 131 (kommuneinndeling) and 104 (fylker),\n"
        f"#   read {today.isoformat()} by scripts/refresh_municipalities.py. Coverage from "
        f"{COVERAGE_FROM.isoformat()}.\n"
        "# Names: SSB's own form. Changes between codes: municipality_changes.csv.\n"
        "kind;code;name;valid_from;valid_to\n" + "\n".join(rows) + "\n"
    )


def changes_text(rows: list[str], today: date) -> str:
    latest = max((r.split(";")[2] for r in rows), default="none")
    return (
        "# Changes of Norwegian municipality numbers: old_code became (part of) new_code on "
        "changed_on.\n"
        "# A code with exactly one new_code on a date was renumbered or merged; with several it "
        "was split.\n"
        "# Source: Statistics Norway (SSB), classification 131, change table read "
        f"{today.isoformat()}\n#   by scripts/refresh_municipalities.py.\n"
        f"# data_date: {latest} (the latest change included; read {today.isoformat()})\n"
        "old_code;new_code;changed_on\n" + "\n".join(rows) + "\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    args = parser.parse_args()
    today = date.today()
    codes = code_rows("county", "104", today) + code_rows("municipality", "131", today)
    changes = change_rows(today)
    new = {CODES_FILE: codes_text(codes, today), CHANGES_FILE: changes_text(changes, today)}
    body = lambda text: [ln for ln in text.splitlines() if not ln.startswith("#")]  # noqa: E731
    stale = [p.name for p, text in new.items()
             if not p.exists() or body(p.read_text(encoding="utf-8")) != body(text)]
    if args.check:
        print("stale: " + ", ".join(stale) if stale else "up to date")
        return 1 if stale else 0
    for path, text in new.items():
        path.write_text(text, encoding="utf-8")
    print(f"wrote {len(codes)} codes and {len(changes)} changes; review with git diff")
    return 0


if __name__ == "__main__":
    sys.exit(main())
