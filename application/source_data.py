"""Source data the volunteer system sends (claims, activities, attachments) and the signed
downloads of the files the service wrote."""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO
from uuid import UUID

from application.activities import ActivityRecord, attachment_path
from application.ports import (
    ActivityRecords,
    ClaimImport,
    ClaimRecord,
    ClaimSource,
    FileStorage,
    StoredFile,
    UrlSigner,
)


class SourceData:
    def __init__(
        self, claims: ClaimSource, activities: ActivityRecords, files: FileStorage
    ) -> None:
        self.claims = claims
        self.activities = activities
        self.files = files

    def import_claims(self, org_id: UUID, claims: Sequence[ClaimRecord]) -> ClaimImport:
        return self.claims.upsert(org_id, claims)

    def late_corrections(self, org_id: UUID) -> int:
        """Corrections of already exported claims that were refused (shown on the dashboard)."""
        return self.claims.late_corrections(org_id)

    def import_activities(self, org_id: UUID, activities: Sequence[ActivityRecord]) -> int:
        return self.activities.upsert(org_id, activities)

    def attach(
        self, org_id: UUID, activity_id: str, name: str, data: bytes, content_type: str
    ) -> StoredFile | None:
        """Store the file beside its activity (the same name replaces it); None when the
        organisation has no such activity."""
        if not self.activities.exists(org_id, activity_id):
            return None
        stored = self.files.write(attachment_path(org_id, activity_id, name), [data], content_type)
        self.activities.add_attachment(org_id, activity_id, name, stored)
        return stored


class Downloads:
    """Files behind signed, expiring URLs: the signature is the permission."""

    def __init__(self, files: FileStorage, signer: UrlSigner) -> None:
        self.files = files
        self.signer = signer

    def url(self, path: str) -> str:
        return self.signer.sign(path)

    def open(self, path: str, signature: str) -> BinaryIO | None:
        """The file, or None when the signature is wrong or expired or the file is gone."""
        if not signature or not self.signer.verify(path, signature) or not self.files.exists(path):
            return None
        return self.files.open(path)
