"""Adapters: PostgreSQL, the event store, projections, files, the queue and secrets."""
