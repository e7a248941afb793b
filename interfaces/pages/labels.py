"""Words for statuses, roles and fields, in the message catalogue (shown through `_()`)."""

from __future__ import annotations

from interfaces.pages.i18n import N_

STATUSES = {
    "pending": N_("Waiting"),
    "running": N_("Running"),
    "completed": N_("Completed"),
    "failed": N_("Failed"),
    "cancelled": N_("Cancelled"),
    "initialised": N_("Requested"),
    "querying_activities": N_("Fetching activities"),
    "mapping_columns": N_("Mapping columns"),
    "generating_file": N_("Writing the report"),
    "bundling_attachments": N_("Bundling attachments"),
    "storing_file": N_("Storing the file"),
    "completed_empty": N_("Completed, no activities"),
    "delivering": N_("Delivering"),
    "delivered": N_("Delivered"),
}

ROLES = {
    "coordinator": N_("coordinator"),
    "admin": N_("administrator"),
    "auditor": N_("auditor"),
    "analyst": N_("analyst"),
    "scheduler": N_("scheduler"),
}

FIELDS = {
    "token": N_("Access token"),
    "period_start": N_("First day"),
    "period_end": N_("Last day"),
    "target": N_("Accounting system"),
    "format": N_("File format"),
    "include_attachments": N_("Attachments"),
    "integration_type": N_("Integration"),
}

TARGETS = {"xledger": "Xledger", "dynamics": "Microsoft Dynamics 365 Business Central"}

TRIGGERS = {"scheduler": N_("the schedule"), "manual": N_("a person")}

REASONS = {
    "too_few_participants": N_("Too few participants"),
    "too_short": N_("Too short"),
    "not_in_person": N_("Not held in person"),
    "not_a_counting_type": N_("Not a kind of activity that counts"),
    "invalid_municipality": N_("Municipality number not valid on that date"),
    "missing_required_field": N_("A field the organisation requires is missing"),
}

#: What each recorded event means, by its type's last part (the type itself is shown too).
EVENTS = {
    "Requested": N_("Requested"),
    "Initialised": N_("Requested"),
    "Started": N_("Started"),
    "ClaimsTaken": N_("Claims taken into the run"),
    "Completed": N_("Completed"),
    "CompletedEmpty": N_("Completed, no activities"),
    "Failed": N_("Failed"),
    "Cancelled": N_("Cancelled"),
    "StepEntered": N_("Next step"),
    "DeliveryQueued": N_("Delivery queued"),
    "DeliveryStarted": N_("Delivery started"),
    "LinesPosted": N_("Lines posted"),
    "DeliveryCompleted": N_("Delivered"),
    "DeliveryFailed": N_("Delivery failed"),
    "DeliveryRetryRequested": N_("Delivery retry requested"),
    "ExportRunLinked": N_("Accounting export linked"),
}

SETTINGS = {
    "company_code": N_("Company code"),
    "voucher_type": N_("Voucher type"),
    "counter_account": N_("Counter account"),
    "document_prefix": N_("Document number prefix"),
    "voucher_grouping": N_("Vouchers"),
    "config": N_("Bufdir configuration"),
    "categories": N_("Categories"),
}
