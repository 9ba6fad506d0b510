"""Benchmark images built from real artefacts, written for both scanners from the same bytes.

- `debian_apps`: a debootstrap'ed Debian 12 minbase rootfs, then an application layer holding a real `npm install`
  (node_modules and package-lock.json), a real `pip install --target` of wheels into a venv, the real esbuild Go
  executable, uvx (a Rust executable with a cargo-auditable list, from uv's wheel), Debian's own jars from
  /usr/share/java (three without pom.properties) and a Spring Boot style fat jar nesting them; a last layer of
  whiteouts removes PyYAML and one of the jars.
- `rpm_images`: real RPM databases (go-rpmdb's public test data: UBI 8 Berkeley DB, CBL-Mariner 2.0 SQLite,
  SLES 15 SP3 NDB) at the paths their distributions use, next to a matching os-release.
- `huge`: the Debian application image plus incompressible layers, ~1 GiB of blobs.

Every image is pushed to the loopback registry (SecAPI) and written as an OCI layout directory (Trivy's
`--input`): the same manifest, config and layer blobs.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

from support.images import LAYER_GZIP, OCI_MANIFEST, Image, Layer, digest_of, layer

ARTEFACTS = Path(os.environ.get("SECAPI_BENCH_ARTEFACTS", "/var/tmp/secapi-bench-apps"))
"""Downloaded artefacts (npm and pip installs, RPM databases), kept between runs."""
GO_BINARY = Path(
    os.environ.get("SECAPI_TEST_GO_BINARY", Path.home() / ".cache/secapi-test/esbuild-0.19.12/package/bin/esbuild")
)
RUST_BINARY = Path(
    os.environ.get(
        "SECAPI_TEST_RUST_BINARY", Path.home() / ".cache/secapi-test/uv-0.13.9/wheel/uv-0.13.9.data/scripts/uvx"
    )
)
"""uvx from uv 0.13.9's wheel: a real Rust executable with a cargo-auditable dependency list (see .ci/run)."""
NPM_PACKAGES = ("express@4.18.2", "lodash@4.17.20", "minimist@1.2.5")
NPM_DEV_PACKAGES = ("is-number@7.0.0",)
PYTHON_WHEELS = ("requests==2.28.0", "urllib3==1.26.5", "flask==2.2.4", "jinja2==3.1.2", "pyyaml==6.0.1")
DEBIAN_JARS = ("commons-lang3-3.12.0.jar", "commons-io-2.11.0.jar", "commons-codec-1.15.jar", "gson-2.10.jar",
               "guava-31.1-jre.jar", "commons-cli-1.5.0.jar",
               # built by Debian without Maven: no pom.properties, only a manifest (or nothing) to go by
               "commons-logging-1.2.jar", "aopalliance-1.0.jar", "bson-3.6.3.jar")  # fmt: skip
SLIM_REMOVALS = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "var/cache/apt",
                 "var/lib/apt/lists")  # fmt: skip
DEBIAN_MIRROR = "http://deb.debian.org/debian"

# RPM databases from github.com/knqyf263/go-rpmdb pkg/testdata (MIT, see the NOTICE written next to them):
# (directory under ARTEFACTS/rpmdb, file name, go-rpmdb's path, path in the image, os-release files).
RPM_DATABASES = {
    "ubi8-bdb": ("Packages", "pkg/testdata/libuuid/Packages", "var/lib/rpm/Packages", {
        "etc/os-release": b'NAME="Red Hat Enterprise Linux"\nVERSION="8.8 (Ootpa)"\nID="rhel"\nID_LIKE="fedora"\n'
                          b'VERSION_ID="8.8"\nPLATFORM_ID="platform:el8"\n'
                          b'PRETTY_NAME="Red Hat Enterprise Linux 8.8 (Ootpa)"\nCPE_NAME="cpe:/o:redhat:'
                          b'enterprise_linux:8::baseos"\n',
        "etc/redhat-release": b"Red Hat Enterprise Linux release 8.8 (Ootpa)\n"}),
    "mariner2-sqlite": ("rpmdb.sqlite", "pkg/testdata/cbl-mariner-2.0/rpmdb.sqlite", "var/lib/rpm/rpmdb.sqlite", {
        "etc/os-release": b'NAME="Common Base Linux Mariner"\nVERSION="2.0.20220226"\nID=mariner\n'
                          b'VERSION_ID="2.0"\nPRETTY_NAME="CBL-Mariner/Linux"\n',
        "etc/mariner-release": b"CBL-Mariner 2.0.20220226\nMARINER_BUILD_NUMBER=0d5d5ba\n"}),
    "sle15-ndb": ("Packages.db", "pkg/testdata/sle15-bci/Packages.db", "usr/lib/sysimage/rpm/Packages.db", {
        "etc/os-release": b'NAME="SLES"\nVERSION="15-SP3"\nVERSION_ID="15.3"\n'
                          b'PRETTY_NAME="SUSE Linux Enterprise Server 15 SP3"\nID="sles"\n'
                          b'ID_LIKE="suse"\nCPE_NAME="cpe:/o:suse:sles:15:sp3"\n'}),
}  # fmt: skip
RPMDB_NOTICE = """These RPM databases are test data of go-rpmdb (https://github.com/knqyf263/go-rpmdb, pkg/testdata),
MIT License, Copyright (c) 2019 Teppei Fukuda (LICENSE.go-rpmdb). Copied unchanged:
  ubi8-bdb/Packages           <- pkg/testdata/libuuid/Packages          (Red Hat UBI 8, Berkeley DB)
  mariner2-sqlite/rpmdb.sqlite <- pkg/testdata/cbl-mariner-2.0/rpmdb.sqlite (CBL-Mariner 2.0, SQLite)
  sle15-ndb/Packages.db       <- pkg/testdata/sle15-bci/Packages.db     (SLE 15 SP3 BCI, NDB)
"""


def ensure_rootfs(path: Path) -> Path:
    """A Debian 12 minbase rootfs made by debootstrap, trimmed like the `-slim` images (~30 MB gzip)."""
    if not (path / "var/lib/dpkg/status").exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(path), DEBIAN_MIRROR], check=True)
    for name in SLIM_REMOVALS:
        shutil.rmtree(path / name, ignore_errors=True)
    return path


def tree_layer(trees: dict[str, Path], files: dict[str, bytes] | None = None) -> Layer:
    """A gzip layer of local directory trees (image path -> local dir; regular files, dirs, symlinks) and files."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for prefix, root in trees.items():
            for path in sorted([root, *root.rglob("*")]):
                if path.is_symlink() or path.is_dir() or path.is_file():
                    name = "/".join(part for part in (prefix, str(path.relative_to(root))) if part not in ("", "."))
                    archive.add(path, arcname=name, recursive=False)
        for name, content in (files or {}).items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(content), 1_700_000_000, 0o644
            archive.addfile(info, io.BytesIO(content))
    tar = raw.getvalue()
    return Layer(gzip.compress(tar, compresslevel=6, mtime=0), digest_of(tar), LAYER_GZIP)


def node_app() -> Path:
    """package.json, package-lock.json and node_modules from a real `npm install`, as a production image holds them:
    a development dependency (`NPM_DEV_PACKAGES`) is in the lockfile but pruned from node_modules (`--omit=dev`)."""
    root = ARTEFACTS / "node-prod"
    if not (root / "package-lock.json").exists():
        root.mkdir(parents=True, exist_ok=True)
        (root / "package.json").write_text('{"name": "bench-app", "version": "1.0.0", "private": true}\n')
        npm = ["npm", "--no-audit", "--no-fund"]
        subprocess.run([*npm, "install", *NPM_PACKAGES], cwd=root, check=True)
        subprocess.run([*npm, "install", "--save-dev", *NPM_DEV_PACKAGES], cwd=root, check=True)
        subprocess.run([*npm, "prune", "--omit=dev"], cwd=root, check=True)
    return root


def python_venv() -> Path:
    """A venv-shaped tree (pyvenv.cfg, lib/python3.11/site-packages) filled by a real `pip install --target`."""
    root = ARTEFACTS / "venv"
    site = root / "lib/python3.11/site-packages"
    if not (root / "pyvenv.cfg").exists():
        site.mkdir(parents=True, exist_ok=True)
        pip = ["python3", "-m", "pip", "install", "-q", "--only-binary", ":all:", "--no-compile", "--target"]
        subprocess.run([*pip, str(site), *PYTHON_WHEELS], check=True)
        (root / "pyvenv.cfg").write_text("home = /usr/local/bin\ninclude-system-site-packages = false\n")
    return root


def java_dir() -> Path:
    """Debian's jars (copied from /usr/share/java) and `app.jar`, a Spring Boot style fat jar nesting them."""
    root = ARTEFACTS / "java"
    fat = root / "app.jar"
    if not fat.exists() or not all((root / "lib" / name).exists() for name in DEBIAN_JARS):
        (root / "lib").mkdir(parents=True, exist_ok=True)
        for name in DEBIAN_JARS:
            shutil.copyfile(Path("/usr/share/java") / name, root / "lib" / name)
        with zipfile.ZipFile(fat, "w") as archive:
            archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nMain-Class: org.springframework.boot."
                             "loader.JarLauncher\nStart-Class: bench.App\n")  # fmt: skip
            for name in DEBIAN_JARS:  # nested jars are stored, as Spring Boot requires
                archive.write(root / "lib" / name, f"BOOT-INF/lib/{name}", compress_type=zipfile.ZIP_STORED)
    return root


def app_layer() -> Layer:
    """The application layer of `debian_apps`: Node, Python, Go and Java, all real artefacts."""
    bin_dir = ARTEFACTS / "bin"
    for binary in (GO_BINARY, RUST_BINARY):
        if not binary.is_file():
            raise FileNotFoundError(f"{binary}: a real executable .ci/run fetches (esbuild, uvx)")
        if not (bin_dir / binary.name).exists():
            bin_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(binary, bin_dir / binary.name)
            (bin_dir / binary.name).chmod(0o755)  # installed executables; both scanners look at executables only
    trees = {"srv/node": node_app(), "opt/venv": python_venv(), "opt/java": java_dir(), "usr/local/bin": bin_dir}
    return tree_layer(trees)


def distro_language_files() -> Path:
    """This host's Debian-packaged language metadata: python3-* `*-info` under /usr/lib/python3/dist-packages,
    nodejs's bundled npm (/usr/lib/node_modules/npm) and node-* packages (/usr/share/nodejs), copied as they are."""
    root = ARTEFACTS / "distro-langs"
    if not root.exists():
        staging = root.with_suffix(".partial")
        shutil.rmtree(staging, ignore_errors=True)
        site = Path("/usr/lib/python3/dist-packages")
        for entry in sorted(site.glob("*-info")):
            target = staging / "usr/lib/python3/dist-packages" / entry.name
            target.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if entry.is_dir() else shutil.copyfile)(entry, target)
        for tree in ("usr/lib/node_modules/npm", "usr/share/nodejs"):
            shutil.copytree(Path("/") / tree, staging / tree, symlinks=True)
        staging.rename(root)
    return root


def rootfs_layer(root: Path) -> Layer:
    """A rootfs as one gzip layer."""
    return tree_layer({"": root})


REMOVALS = ("opt/venv/lib/python3.11/site-packages/.wh.PyYAML-6.0.1.dist-info", "opt/java/lib/.wh.gson-2.10.jar")
"""A last layer's whiteouts, as `pip uninstall pyyaml` and `rm gson-2.10.jar` leave them: PyYAML is gone from
the image, gson is still there, nested in app.jar. Both scanners must apply them."""


def debian_distro_languages(rootfs: Path) -> Image:
    """Debian 12 minbase plus Debian's own Python and Node packages' metadata (`distro_language_files`)."""
    return Image([rootfs_layer(ensure_rootfs(rootfs)), tree_layer({"": distro_language_files()})])


def debian_apps(rootfs: Path) -> Image:
    """Debian 12 minbase, the application layer, and a layer removing some of it (`REMOVALS`)."""
    return Image([rootfs_layer(ensure_rootfs(rootfs)), app_layer(), layer(dict.fromkeys(REMOVALS, b""))])


REPO_FIXTURES = Path(__file__).resolve().parents[1] / "tests/fixtures/rpmdb"
IN_REPO = {"ubi8-bdb": "centos8-libuuid/Packages", "sle15-ndb": "sle15-bci/Packages.db"}
"""The same go-rpmdb files, already in the repository as test fixtures (see their NOTICE.md)."""


def rpm_database_files(source: Path | None = None) -> dict[str, Path]:
    """Each RPM image's database: from ARTEFACTS/rpmdb, a go-rpmdb checkout (`source`, copied there once), or the
    repository's fixtures; an image none of them has is left out, and said so."""
    target, found = ARTEFACTS / "rpmdb", {}
    for name, (file, origin, *_) in RPM_DATABASES.items():
        cached = target / name / file
        if not cached.exists() and source is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / origin, cached)
            shutil.copyfile(source / "LICENSE", target / "LICENSE.go-rpmdb")
            (target / "NOTICE").write_text(RPMDB_NOTICE)
        if cached.exists():
            found[name] = cached
        elif name in IN_REPO:
            found[name] = REPO_FIXTURES / IN_REPO[name]
        else:
            print(f"{name}: not compared, no copy of {origin} (pass --go-rpmdb <a go-rpmdb checkout>)")
    return found


def rpm_images(databases: dict[str, Path]) -> dict[str, Image]:
    """One single-layer image per RPM database: the database at its distribution's path plus os-release."""
    images = {}
    for name, database in databases.items():
        _, _, path, os_files = RPM_DATABASES[name]
        images[name] = Image([layer({**os_files, path: database.read_bytes()})])
    return images


def big_layer(size: int, seed: int) -> Layer:
    """`size` bytes of incompressible file content spread over 64 files (gzip level 1: it cannot shrink)."""
    chunk = size // 64
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for n in range(64):
            info = tarfile.TarInfo(f"data/blob-{seed}-{n}.bin")
            info.size, info.mtime, info.mode = chunk, 1_700_000_000, 0o644
            archive.addfile(info, io.BytesIO(os.urandom(chunk)))
    tar = raw.getvalue()
    return Layer(gzip.compress(tar, compresslevel=1, mtime=0), digest_of(tar), LAYER_GZIP)


def huge(base: Image, total: int = 1024 * 1024 * 1024) -> Image:
    """`base` plus incompressible 128 MiB layers until the blobs add up to at least `total` bytes."""
    have, step = sum(len(item.blob) for item in base.layers), 128 * 1024 * 1024
    extra = [big_layer(step, seed) for seed in range(-(-max(0, total - have) // step))]
    return Image([*base.layers, *extra])


def write_oci_layout(image: Image, directory: Path, reference: str = "latest") -> Path:
    """`image` as an OCI image layout directory (what `trivy image --input` reads), blobs written as they are."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for data in (image.manifest, image.config, *(item.blob for item in image.layers)):
        target = blobs / digest_of(data).split(":", 1)[1]
        if not target.exists():
            target.write_bytes(data)
    descriptor = {"mediaType": OCI_MANIFEST, "digest": image.digest, "size": len(image.manifest),
                  "annotations": {"org.opencontainers.image.ref.name": reference}}  # fmt: skip
    (directory / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [descriptor]}))
    (directory / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return directory
