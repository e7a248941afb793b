"""Files on a local disk: an export's file written under its own name is renamed into place
(replacing the old one) or removed, and nothing else is left in the directory."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
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


def test_files_left_unfinished_by_a_dead_writer_are_removed_once_old(tmp_path: Path) -> None:
    """A worker killed mid-run leaves its run's file under the name it was written under
    (`*.pending`), or the storage's own half-written `*.part`; the finished files and the
    unfinished ones still recent (a live writer's) stay."""
    storage = FsspecStorage(str(tmp_path))
    for path in ("exports/a/run.csv", "exports/a/run.csv.1.pending", "exports/b/run.xlsx.2.pending",
                 "exports/b/fresh.csv.3.pending", "exports/c/notes.pending.csv"):
        storage.write(path, [b"x"], "text/csv")
    (tmp_path / "exports/c/run.csv.4.part").write_bytes(b"half")  # a write cut off midway
    hour_ago = time.time() - 3600
    for path in ("exports/a/run.csv", "exports/a/run.csv.1.pending",
                 "exports/b/run.xlsx.2.pending", "exports/c/notes.pending.csv",
                 "exports/c/run.csv.4.part"):
        os.utime(tmp_path / path, (hour_ago, hour_ago))
    cutoff = datetime.now(UTC) - timedelta(minutes=30)
    assert storage.remove_unfinished(".pending", cutoff) == [
        "exports/a/run.csv.1.pending", "exports/b/run.xlsx.2.pending", "exports/c/run.csv.4.part"]
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == [
        "exports/a/run.csv", "exports/b/fresh.csv.3.pending", "exports/c/notes.pending.csv"]
    assert storage.remove_unfinished(".pending", cutoff) == []  # nothing more: nothing happens
