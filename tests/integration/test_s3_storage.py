"""Shared storage on S3 (the `s3` extra): files written by one machine are read by another.
The S3 API is moto's stand-in server on 127.0.0.1; s3fs talks to it exactly as to AWS."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from infrastructure.files import FsspecStorage

pytest.importorskip("s3fs", reason="the s3 extra: pip install 'export-service[s3]'")
moto_server = pytest.importorskip("moto.server")


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-north-1", "AWS_ENDPOINT_URL": endpoint,
    }.items():
        monkeypatch.setenv(key, value)
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint)
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):  # moto's state is global
        client.create_bucket(
            Bucket="exports", CreateBucketConfiguration={"LocationConstraint": "eu-north-1"}
        )
    yield endpoint
    server.stop()


def test_a_file_written_on_one_machine_is_read_on_another(s3_endpoint: str) -> None:
    import s3fs

    writer = FsspecStorage("s3://exports/prod")
    assert isinstance(writer.fs, s3fs.S3FileSystem)
    body = b"GL02;line;1\n" * 1000
    stored = writer.write("exports/org/run.csv", [body[:5000], body[5000:]], "text/csv")
    assert (stored.size_bytes, stored.sha256) == (len(body), hashlib.sha256(body).hexdigest())
    s3fs.S3FileSystem.clear_instance_cache()
    reader = FsspecStorage("s3://exports/prod")  # another process: nothing shared but the bucket
    with reader.open("exports/org/run.csv") as f:
        assert f.read() == body
    assert reader.exists("exports/org/run.csv") and not reader.exists("exports/org/other.csv")
    assert [p.rsplit("/", 1)[-1] for p in reader.fs.ls("exports/prod/exports/org")] == ["run.csv"]


def test_a_file_written_under_its_own_name_is_moved_into_place_or_removed(
    s3_endpoint: str,
) -> None:
    """What an export does with the file it wrote while its claims were being taken."""
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()  # a file system of an earlier test's server
    storage = FsspecStorage("s3://exports/moves")
    storage.write("exports/org/run.csv", [b"old"], "text/csv")
    storage.write("exports/org/run.csv.1.pending", [b"new"], "text/csv")
    storage.write("exports/org/run.csv.2.pending", [b"lost"], "text/csv")
    storage.move("exports/org/run.csv.1.pending", "exports/org/run.csv")
    storage.remove("exports/org/run.csv.2.pending")
    storage.remove("exports/org/never.csv")  # nothing there: nothing happens
    with storage.open("exports/org/run.csv") as f:
        assert f.read() == b"new"
    assert [p.rsplit("/", 1)[-1] for p in storage.fs.ls("exports/moves/exports/org")] == ["run.csv"]


def test_files_left_unfinished_are_found_by_when_s3_last_changed_them(s3_endpoint: str) -> None:
    """On S3 a file's time is its object's LastModified (not a local mtime)."""
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    storage = FsspecStorage("s3://exports/unfinished")
    storage.write("exports/org/run.csv", [b"done"], "text/csv")
    storage.write("exports/org/run.csv.1.pending", [b"lost"], "text/csv")
    assert storage.remove_unfinished(".pending", datetime.now(UTC) - timedelta(hours=1)) == []
    later = datetime.now(UTC) + timedelta(minutes=1)  # both written before it
    assert storage.remove_unfinished(".pending", later) == ["exports/org/run.csv.1.pending"]
    assert [p.rsplit("/", 1)[-1] for p in storage.fs.ls("exports/unfinished/exports/org")] == [
        "run.csv"]
