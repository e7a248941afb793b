"""The name of every queued task and periodic job, written once (the queue, the use cases that
defer jobs and the sweep that looks for live ones all use these)."""

from __future__ import annotations

EXECUTE_EXPORT_RUN = "execute_export_run"
EXECUTE_BUFDIR_EXPORT = "execute_bufdir_export"
RUN_ACCOUNTING_SYNC = "run_accounting_sync"
SETTLE_ACCOUNTING_SYNC = "settle_accounting_sync"

SWEEP = "sweep"
SYNC_TICK = "sync_tick"
SYNC_ARCHIVE = "sync_archive"
LOG_AUDIT_HEADS = "log_audit_heads"
DELIVER_EXPORT_RUN = "deliver_export_run"
DELIVERY_HEALTH = "delivery_health"
REMOVE_UNFINISHED_FILES = "remove_unfinished_files"

#: Periodic jobs: name -> cron (UTC).
CRON = {
    SWEEP: "* * * * *",
    SYNC_TICK: "* * * * *",
    SYNC_ARCHIVE: "17 3 * * *",
    LOG_AUDIT_HEADS: "0 3 * * *",
    DELIVERY_HEALTH: "* * * * *",  # checks only connections due (each at most every 15 min)
    REMOVE_UNFINISHED_FILES: "41 * * * *",  # lists every stored file: hourly, not each minute
}
