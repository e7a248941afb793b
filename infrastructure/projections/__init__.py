"""Read models built only from the event log, each with its own tracked position."""
