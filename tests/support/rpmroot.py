"""Real rpm databases for tests: tiny packages built by `rpmbuild`, recorded by `rpm --justdb` into a root.

Debian's rpm 4.18 writes SQLite databases (`_db_backend sqlite`; it reads Berkeley DB read-only and has no
NDB backend). Under CI=true a missing rpm or rpmbuild fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
DBPATH = "var/lib/rpm"
QUERY_FORMAT = r"%{NAME} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE} %{ARCH} %{SOURCERPM}\n"
"""`rpm -qa` lines in the shape `name [epoch:]version-release arch sourcerpm`."""


@dataclass(frozen=True)
class Spec:
    """One source package: its binary package of the same name, plus `subpackages` (`-n` names)."""

    name: str
    version: str
    release: str
    epoch: int | None = None
    subpackages: tuple[str, ...] = ()
    main_package: bool = True
    defines: dict[str, str] = field(default_factory=dict)

    def text(self) -> str:
        lines = [f"Name: {self.name}", f"Version: {self.version}", f"Release: {self.release}"]
        lines += [f"Epoch: {self.epoch}"] if self.epoch is not None else []
        lines += ["Summary: test package", "License: MIT", "BuildArch: noarch", "%description", "test"]
        for sub in self.subpackages:
            lines += [f"%package -n {sub}", f"Summary: {sub}", f"%description -n {sub}", sub, f"%files -n {sub}"]
        if self.main_package:
            lines += ["%files"]
        return "\n".join(lines) + "\n"


def require_rpm() -> None:
    """Skip (fail under CI=true) without rpm and rpmbuild."""
    missing = [tool for tool in ("rpm", "rpmbuild") if shutil.which(tool) is None]
    if missing:
        message = f"{' and '.join(missing)} not installed (Debian: rpm)"
        if IN_CI:
            pytest.fail(f"{message}; required under CI=true, .ci/run installs it")
        pytest.skip(message)


def build_root(workdir: Path, specs: list[Spec]) -> Path:
    """A root whose `var/lib/rpm/rpmdb.sqlite` records `specs`' binary packages, installed in order."""
    require_rpm()
    top, root = workdir / "rpmbuild", workdir / "root"
    rpms: list[Path] = []
    for spec in specs:
        spec_file = workdir / f"{spec.name}.spec"
        spec_file.write_text(spec.text())
        defines = [arg for key, value in spec.defines.items() for arg in ("--define", f"{key} {value}")]
        subprocess.run(
            ["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {top}", "--define", "_build_id_links none",
             *defines, str(spec_file)],
            check=True, capture_output=True,
        )  # fmt: skip
        built = sorted((top / "RPMS" / "noarch").glob("*.rpm"))
        rpms += [path for path in built if path not in rpms]
    rpm_args = ["--root", str(root), "--dbpath", f"/{DBPATH}"]
    subprocess.run(["rpm", *rpm_args, "--initdb"], check=True, capture_output=True)
    for path in rpms:
        subprocess.run(
            ["rpm", *rpm_args, "-i", "--nodeps", "--justdb", "--noscripts", str(path)], check=True, capture_output=True
        )
    return root


def rpm_query_all(root: Path) -> list[str]:
    """The oracle: what rpm itself lists for the root's database, sorted."""
    done = subprocess.run(
        ["rpm", "--root", str(root), "--dbpath", f"/{DBPATH}", "-qa", "--qf", QUERY_FORMAT],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return sorted(done.stdout.splitlines())
