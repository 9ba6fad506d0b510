"""Print the settings reference (docs/configuration.md) from `secapi.config.Settings` and its field docstrings.

.venv/bin/python scripts/settings_reference.py > docs/configuration.md
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools

from secapi import config
from secapi.config import Settings

HEADER = """# Configuration reference

Every setting is an environment variable `SECAPI_<FIELD>`, read once at start by
`Settings.from_env()` ([`src/secapi/config.py`](../src/secapi/config.py)). Booleans accept
`true/false`, `1/0`, `yes/no`, `on/off`. A cron setting (`*_CRON`) or an exploit-data source
(`SECAPI_VULNDB_EPSS_SOURCE`, `SECAPI_VULNDB_KEV_SOURCE`) that is empty or `off`, `none`, `never`,
`false` or `disabled` is switched off; any other empty variable means "the default".

Every value is checked when the settings are built, before anything starts: a number that is not
one, a `host[:port]` list entry with a bad host or a port outside 1-65535, credentials that are not
the JSON shown, a cron expression SAQ could not schedule, a source that is neither an http(s) URL nor
a `file://` URL or path (for `SECAPI_VULNDB_SOURCE`: an existing directory), or an ecosystem SecAPI
does not scan stops `secapi serve`, `worker`, `demo` and every other command with exit status 2 and
one line naming the variable.

This file is generated: `.venv/bin/python scripts/settings_reference.py > docs/configuration.md`.

| variable | default | meaning |
|---|---|---|"""


def field_docs() -> dict[str, str]:
    """Each field's docstring (the string literal after it in the class body), on one line."""
    tree = ast.parse(inspect.getsource(config))
    body = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings").body
    docs = {}
    for node, after in itertools.pairwise(body):
        documented = isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and documented:
            docs[node.target.id] = " ".join(str(after.value.value).split())
    return docs


def default(value: object) -> str:
    if value is None:
        return "unset"
    if value == "":
        return "empty"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int) and value >= 1024**2 and value % 1024**2 == 0:
        return f"{value} ({value // 1024**3} GiB)" if value % 1024**3 == 0 else f"{value} ({value // 1024**2} MiB)"
    return str(value)


def main() -> None:
    docs = field_docs()
    print(HEADER)
    for field in dataclasses.fields(Settings):
        meaning = docs.get(field.name, "").replace("|", "\\|")
        print(f"| `SECAPI_{field.name.upper()}` | `{default(field.default)}` | {meaning} |")


if __name__ == "__main__":
    main()
