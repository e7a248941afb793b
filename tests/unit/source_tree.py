"""Parsing our own source files in tests."""

from __future__ import annotations

import ast


def parse(source: str, filename: str = "<unknown>") -> ast.Module:
    """`ast.parse`, again when CPython 3.11 answers "AST constructor recursion depth mismatch":
    its AST state is shared by the interpreter's threads, so a module compiled by another
    thread of the test process at the same moment (an import done late) can upset one parse.
    The source is the same, so a second parse gives the real answer (a syntax error is raised
    as ever)."""
    for _ in range(4):
        try:
            return ast.parse(source, filename=filename)
        except SystemError:
            continue
    return ast.parse(source, filename=filename)
