"""Domain model: aggregates, their lifecycles and value objects. No I/O, no framework imports."""
