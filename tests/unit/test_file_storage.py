"""Files on a local disk: an export's file written under its own name is renamed into place
(replacing the old one) or removed, and nothing else is left in the directory."""

from __future__ import annotations

from pathlib import Path

from infrastructure.files import FsspecStorage


def test_a_file_is_moved_into_place_or_removed(tmp_path: Path) -> None:
    storage = FsspecStorage(str(tmp_path))
    storage.write("exports/org/run.csv", [b"old"], "text/csv")
    storage.write("exports/org/run.csv.1.pending", [b"new ", b"file"], "text/csv")
    storage.write("exports/org/run.csv.2.pending", [b"lost"], "text/csv")
    storage.move("exports/org/run.csv.1.pending", "exports/org/run.csv")
    storage.move("exports/org/run.csv", "exports/other/run.csv")  # a directory made on the way
    storage.remove("exports/org/run.csv.2.pending")
    storage.remove("exports/org/never.csv")  # nothing there: nothing happens
    assert (tmp_path / "exports/other/run.csv").read_bytes() == b"new file"
    assert [p.name for p in (tmp_path / "exports").rglob("*") if p.is_file()] == ["run.csv"]
