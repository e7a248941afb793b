"""Stand-in servers for the accounting systems, run by the tests on 127.0.0.1 only."""
