"""Run schemathesis' command line with `ast.parse` serialised across threads.

On this project's Python (3.11.7), two threads compiling at once can fail with "SystemError: AST constructor
recursion depth mismatch". Hypothesis parses lambda sources to describe filtered strategies while
schemathesis' workers generate cases in threads, so a contract run with `--workers 2` failed at random inside
the tool, before any request. One lock around `ast.parse` removes the race; nothing else changes.

Usage (as `st`): python scripts/_st_serial_ast.py --config-file ... run URL ...
"""

from __future__ import annotations

import ast
import sys
import threading
from typing import Any

_LOCK = threading.Lock()
_PARSE = ast.parse


def _serial_parse(*args: Any, **kwargs: Any) -> Any:
    with _LOCK:
        return _PARSE(*args, **kwargs)


if __name__ == "__main__":
    ast.parse = _serial_parse
    del sys.path[0]  # this script's folder, where `schemathesis.py` (our runner) would shadow the package
    from schemathesis.cli import schemathesis

    sys.exit(schemathesis())
