"""Lockfiles of further ecosystems: Dart, Elixir, Swift, R, Bun, Haskell and Conan (C/C++)."""

from __future__ import annotations

from pathlib import Path

import pytest

from secapi.adapters.lockfiles import parse_lockfile
from secapi.domain.lockfiles import MalformedLockfile, ParsedLockfile

FIXTURES = Path(__file__).parent / "fixtures"


def _parse(case: str, name: str) -> ParsedLockfile:
    return parse_lockfile(name, (FIXTURES / case / name).read_text())


def test_pubspec_lock_reads_pub_dev_packages_with_purls() -> None:
    parsed = _parse("pub", "pubspec.lock")
    assert parsed.ecosystem == "Pub"
    assert [(p.name, p.version, p.purl, p.location) for p in parsed.packages] == [
        ("async", "2.11.0", "pkg:pub/async@2.11.0", "line 4"),
        ("collection", "1.18.0", "pkg:pub/collection@1.18.0", "line 12"),
        ("http", "1.1.0", "pkg:pub/http@1.1.0", "line 25"),
    ]


def test_pubspec_lock_reports_sdk_path_git_and_private_server_packages() -> None:
    parsed = _parse("pub", "pubspec.lock")
    by_name = {entry.name: entry for entry in parsed.unscannable}
    assert list(by_name) == ["flutter", "internal_auth", "shared_widgets", "yaml_edit"]
    assert "flutter SDK" in by_name["flutter"].reason
    assert "another package server (https://***@pub.acme.example)" in by_name["internal_auth"].reason
    assert "s3cret" not in by_name["internal_auth"].reason
    assert "../shared_widgets" in by_name["shared_widgets"].reason
    assert "git (https://github.com/dart-lang/yaml_edit.git)" in by_name["yaml_edit"].reason
    assert by_name["yaml_edit"].location == "line 48"


def test_pubspec_lock_entry_without_a_version_does_not_void_the_file() -> None:
    parsed = _parse("edge-cases/pub", "pubspec.lock")
    assert len(parsed.packages) == 3
    broken = {entry.name: entry.reason for entry in parsed.unscannable}
    assert "missing required field 'version'" in broken["no_version"]
    assert "expected an object" in broken["just_a_string"]
    assert "unknown source 'mirror'" in broken["odd_source"]


def test_pubspec_lock_that_is_not_yaml_is_malformed() -> None:
    with pytest.raises(MalformedLockfile) as caught:
        parse_lockfile("pubspec.lock", "packages:\n  a: [\n")
    assert caught.value.filename == "pubspec.lock"


def test_mix_lock_reads_hex_packages_by_their_hex_name() -> None:
    parsed = _parse("mix", "mix.lock")
    assert parsed.ecosystem == "Hex"
    assert [(p.name, p.version, p.purl) for p in parsed.packages] == [
        ("castore", "1.0.5", "pkg:hex/castore@1.0.5"),
        ("cowboy", "2.10.0", "pkg:hex/cowboy@2.10.0"),
        ("cowlib", "2.12.1", "pkg:hex/cowlib@2.12.1"),
        ("phoenix", "1.7.10", "pkg:hex/phoenix@1.7.10"),
        ("plug_crypto", "2.0.0", "pkg:hex/plug_crypto@2.0.0"),
        ("ranch", "1.8.0", "pkg:hex/ranch@1.8.0"),  # the older 7-element tuple, without the outer hash
        ("telemetry_poller", "1.0.0", "pkg:hex/telemetry_poller@1.0.0"),
    ]
    assert next(p for p in parsed.packages if p.name == "cowboy").location == "line 4"


def test_mix_lock_reports_git_checkouts_and_private_hex_organisations() -> None:
    private, git = _parse("mix", "mix.lock").unscannable
    assert (private.name, private.location) == ("acme_billing", "line 2")
    assert "'hexpm:acme'" in private.reason
    assert (git.name, git.location) == ("phoenix_live_dashboard", "line 7")
    assert "git (https://github.com/phoenixframework/phoenix_live_dashboard.git)" in git.reason


def test_mix_lock_bad_entries_are_reported_and_the_rest_is_read() -> None:
    parsed = _parse("edge-cases/mix", "mix.lock")
    # The Hex name wins over the lock key: `poison_fork` is the package `poison`.
    assert [p.name for p in parsed.packages] == ["castore", "jason", "poison", "ssl_verify_fun"]
    reasons = {entry.name: entry.reason for entry in parsed.unscannable}
    assert list(reasons) == ["local_lib", "broken_hex", "odd", "not_a_tuple"]
    assert "could not be read" in reasons["broken_hex"]
    assert "source :svn" in reasons["odd"]


@pytest.mark.parametrize(
    "content",
    [
        '%{"a": {:hex, :a, "1.0.0"}',  # unclosed map
        '%{"a": {:hex, :a, "1.0.0}}',  # unclosed string
        'System.cmd("rm", ["-rf", "/"])',  # code, not a lock map
        '%{"a": {:hex, :a, "1.0.0"}} extra',
        "%{" + '"a": ' + "[" * 200 + "]" * 200 + "}",
    ],
)
def test_mix_lock_that_is_not_a_lock_map_is_malformed(content: str) -> None:
    with pytest.raises(MalformedLockfile) as caught:
        parse_lockfile("mix.lock", content)
    assert "unexpected structure" not in caught.value.reason


def test_package_resolved_v1_names_packages_by_repository_url_as_osv_does() -> None:
    parsed = _parse("swift-v1", "Package.resolved")
    assert parsed.ecosystem == "SwiftURL"
    assert [(p.name, p.version, p.purl, p.location) for p in parsed.packages] == [
        ("github.com/apple/swift-log", "1.4.2", "pkg:swift/github.com/apple/swift-log@1.4.2", "object.pins[0]"),
        ("github.com/apple/swift-nio", "2.40.0", "pkg:swift/github.com/apple/swift-nio@2.40.0", "object.pins[1]"),
    ]
    (vapor,) = parsed.unscannable
    assert (vapor.name, vapor.location) == ("Vapor", "object.pins[2]")
    assert "branch or revision 'main'" in vapor.reason


def test_package_resolved_v2_reads_remote_pins_and_reports_local_and_branch_pins() -> None:
    parsed = _parse("swift-v2", "Package.resolved")
    assert [(p.name, p.version) for p in parsed.packages] == [
        ("github.com/Alamofire/Alamofire", "5.8.1"),
        ("github.com/acme/internal-kit", "1.2.0"),  # an SSH location names the same repository
        ("github.com/apple/swift-collections", "1.0.5"),
    ]
    local, branch = parsed.unscannable
    assert (local.name, local.location) == ("design-system", "pins[1]")
    assert "local package (/Users/dev/src/design-system)" in local.reason
    assert (branch.name, branch.location) == ("swift-snapshot-testing", "pins[4]")


def test_package_resolved_v3_reports_registry_packages() -> None:
    parsed = _parse("swift-v3", "Package.resolved")
    assert [(p.name, p.version) for p in parsed.packages] == [
        ("github.com/apple/swift-argument-parser", "1.3.0"),
        ("github.com/apple/swift-nio", "2.64.0"),
    ]
    (registry,) = parsed.unscannable
    assert registry.name == "mona.linkedlist"
    assert "package registry" in registry.reason


def test_package_resolved_bad_pins_are_reported_and_credentials_never_reach_a_name() -> None:
    parsed = _parse("edge-cases/swift", "Package.resolved")
    assert [p.name for p in parsed.packages] == ["git.acme.example/mobile/private-sdk", "github.com/apple/swift-nio"]
    reasons = {entry.name: entry.reason for entry in parsed.unscannable}
    assert list(reasons) == ["no-location", "revision-only", "(an entry without a name)", "odd-kind"]
    assert "missing required field 'location'" in reasons["no-location"]
    assert "'ffeeddccbbaa00998877665544332211ffeeddcc'" in reasons["revision-only"]


@pytest.mark.parametrize("content", ['{"version": 4, "pins": []}', '{"pins": []}', "[]", '{"version": 2, "pins": {}}'])
def test_package_resolved_of_an_unknown_shape_is_malformed(content: str) -> None:
    with pytest.raises(MalformedLockfile) as caught:
        parse_lockfile("Package.resolved", content)
    assert "unexpected structure" not in caught.value.reason


def test_renv_lock_reads_cran_and_cran_mirror_packages() -> None:
    parsed = _parse("renv", "renv.lock")
    assert parsed.ecosystem == "CRAN"
    assert [(p.name, p.version, p.purl) for p in parsed.packages] == [
        ("BH", "1.81.0-1", "pkg:cran/BH@1.81.0-1"),
        ("cli", "3.6.1", "pkg:cran/cli@3.6.1"),  # `posit` is named in R.Repositories with a Posit PM URL
        ("dplyr", "1.1.3", "pkg:cran/dplyr@1.1.3"),
        ("jsonlite", "1.8.7", "pkg:cran/jsonlite@1.8.7"),
        ("renv", "1.0.3", "pkg:cran/renv@1.0.3"),
    ]
    assert parsed.packages[0].location == 'Packages["BH"]'


def test_renv_lock_reports_bioconductor_github_and_other_repository_packages() -> None:
    reasons = {entry.name: entry.reason for entry in _parse("renv", "renv.lock").unscannable}
    assert list(reasons) == ["BiocGenerics", "acmeutils", "reportkit"]
    assert "Bioconductor" in reasons["BiocGenerics"]
    assert "repository 'acme'" in reasons["acmeutils"]
    assert "GitHub (acme/reportkit)" in reasons["reportkit"]


def test_renv_lock_reads_old_cran_sources_and_reports_unreadable_packages() -> None:
    parsed = _parse("edge-cases/renv", "renv.lock")
    assert [(p.name, p.version) for p in parsed.packages] == [("R6", "2.4.1"), ("digest", "0.6.25")]
    reasons = {entry.name: entry.reason for entry in parsed.unscannable}
    assert list(reasons) == ["localpkg", "noversion", "weird", "nosource"]
    assert "local source package" in reasons["localpkg"]
    assert "missing required field 'Version'" in reasons["noversion"]
    assert "missing required field 'Source'" in reasons["nosource"]


def test_bun_lock_reads_npm_packages_including_nested_second_versions() -> None:
    parsed = _parse("bun", "bun.lock")
    assert parsed.ecosystem == "npm"
    assert [(p.name, p.version, p.purl, p.location) for p in parsed.packages] == [
        ("@types/node", "20.11.5", "pkg:npm/%40types/node@20.11.5", 'packages["@types/node"]'),
        ("express", "4.18.2", "pkg:npm/express@4.18.2", 'packages["express"]'),
        ("lodash", "4.17.20", "pkg:npm/lodash@4.17.20", 'packages["@acme/ui/lodash"]'),
        ("lodash", "4.17.21", "pkg:npm/lodash@4.17.21", 'packages["lodash"]'),
    ]


def test_bun_lock_reports_workspace_git_and_file_packages() -> None:
    reasons = {entry.name: entry.reason for entry in _parse("bun", "bun.lock").unscannable}
    assert list(reasons) == ["@acme/ui", "left-pad", "local-config"]
    assert "workspace package (packages/ui)" in reasons["@acme/ui"]
    assert "git (github:stevemao/left-pad#5c1f8e4)" in reasons["left-pad"]
    assert "local path (file:../local-config)" in reasons["local-config"]


def test_bun_lock_with_comments_reports_bad_entries_and_masks_tarball_credentials() -> None:
    parsed = _parse("edge-cases/bun", "bun.lock")
    assert [(p.name, p.version) for p in parsed.packages] == [("ms", "2.1.3")]
    reasons = {entry.name: entry.reason for entry in parsed.unscannable}
    assert list(reasons) == ["tarball", "git-dep", "no-array", "empty", "not-string", "tagged"]
    assert "https://***@registry.acme.example/" in reasons["tarball"]
    assert "pw" not in reasons["tarball"]
    assert "'latest'" in reasons["tagged"]


def test_bun_lock_keeps_commas_and_slashes_inside_strings() -> None:
    content = '{"lockfileVersion": 1, "packages": {"a": ["a@1.0.0", "", {"x": ",}"}, "//not a comment"],},}'
    parsed = parse_lockfile("bun.lock", content)
    assert [(p.name, p.version) for p in parsed.packages] == [("a", "1.0.0")]


@pytest.mark.parametrize("content", ['{"packages": {}}', '{"lockfileVersion": 1, "packages": {"a": [}', "[1,]"])
def test_bun_lock_that_is_not_a_bun_lockfile_is_malformed(content: str) -> None:
    with pytest.raises(MalformedLockfile) as caught:
        parse_lockfile("bun.lock", content)
    assert "unexpected structure" not in caught.value.reason


def test_cabal_freeze_reads_exact_constraints_and_skips_flag_lines() -> None:
    parsed = _parse("cabal", "cabal.project.freeze")
    assert parsed.ecosystem == "Hackage"
    assert [(p.name, p.version, p.location) for p in parsed.packages] == [
        ("Cabal", "3.10.1.0", "line 2"),  # `setup.Cabal` on line 9 pins the same version
        ("Cabal-syntax", "3.10.1.0", "line 3"),
        ("aeson", "2.1.2.1", "line 4"),
        ("base", "4.18.0.0", "line 6"),
        ("text", "2.0.2", "line 8"),
        ("warp", "3.3.30", "line 10"),
        ("zlib", "0.6.3.0", "line 12"),
    ]
    assert parsed.packages[0].purl == "pkg:hackage/Cabal@3.10.1.0"
    (bytestring,) = parsed.unscannable
    assert (bytestring.name, bytestring.location) == ("bytestring", "line 7")
    assert "installed with GHC" in bytestring.reason


def test_cabal_freeze_reports_ranges_and_unreadable_constraints() -> None:
    parsed = _parse("edge-cases/cabal", "cabal.project.freeze")
    assert [(p.name, p.version) for p in parsed.packages] == [("async", "2.2.4"), ("mtl", "2.3.1"), ("stm", "2.5.1.0")]
    reasons = {entry.name: (entry.location, entry.reason) for entry in parsed.unscannable}
    assert list(reasons) == ["network", "!!!", "base"]
    assert reasons["network"] == ("line 3", "constrained by '>=3.1 && <3.2', not pinned to one version")
    assert "could not be read" in reasons["!!!"][1]


def test_cabal_freeze_reports_a_package_given_only_flags_and_no_version() -> None:
    parsed = parse_lockfile(
        "cabal.project.freeze",
        "constraints: any.zlib -bundled-c-zlib,\n"
        "             any.zlib ==0.6.3.0,\n"
        "             hashable +random-initial-seed\n",
    )
    assert [(p.name, p.version) for p in parsed.packages] == [("zlib", "0.6.3.0")]
    (hashable,) = parsed.unscannable
    assert (hashable.name, hashable.location) == ("hashable", "line 3")
    assert "only flags" in hashable.reason


def test_stack_lock_reads_hackage_extra_deps_and_reports_git_deps_and_the_snapshot() -> None:
    parsed = _parse("stack", "stack.yaml.lock")
    assert [(p.name, p.version, p.location) for p in parsed.packages] == [
        ("acme-missiles", "0.3", "packages[0]"),
        ("servant", "0.20.1", "packages[1]"),
    ]
    git, snapshot = parsed.unscannable
    assert (git.name, git.location) == ("fork-of-http-client", "packages[2]")
    assert "git (https://github.com/acme/http-client.git)" in git.reason
    assert (snapshot.name, snapshot.location) == ("lts-21.13", "snapshots[0]")
    assert "not listed" in snapshot.reason


def test_stack_lock_entry_of_the_wrong_shape_does_not_void_the_file() -> None:
    content = "packages:\n- completed:\n    hackage: text-2.0.2\n- just-a-string\n- completed:\n    hackage: nonsense\n"
    parsed = parse_lockfile("stack.yaml.lock", content)
    assert [(p.name, p.version) for p in parsed.packages] == [("text", "2.0.2")]
    assert [entry.location for entry in parsed.unscannable] == ["packages[1]", "packages[2]"]


def test_conan_2_lock_reads_requires_and_build_requires_from_conancenter() -> None:
    parsed = _parse("conan-v2", "conan.lock")
    assert parsed.ecosystem == "ConanCenter"
    assert [(p.name, p.version, p.purl, p.location) for p in parsed.packages] == [
        ("cmake", "3.27.4", "pkg:conan/cmake@3.27.4", "build_requires[0]"),
        ("fmt", "10.1.1", "pkg:conan/fmt@10.1.1", "requires[2]"),
        ("ninja", "1.11.1", "pkg:conan/ninja@1.11.1", "build_requires[1]"),
        ("openssl", "3.1.2", "pkg:conan/openssl@3.1.2", "requires[1]"),
        ("zlib", "1.2.13", "pkg:conan/zlib@1.2.13", "requires[0]"),
    ]
    (private,) = parsed.unscannable
    assert (private.name, private.location) == ("acme-telemetry", "requires[3]")
    assert "acme/stable" in private.reason


def test_conan_1_lock_reads_graph_nodes_and_skips_the_consumer() -> None:
    parsed = _parse("conan-v1", "conan.lock")
    assert [(p.name, p.version, p.location) for p in parsed.packages] == [
        ("boost", "1.78.0", 'graph_lock.nodes["1"]'),
        ("zlib", "1.2.11", 'graph_lock.nodes["2"]'),
    ]
    (private,) = parsed.unscannable
    assert (private.name, private.location) == ("legacy-codec", 'graph_lock.nodes["3"]')


def test_conan_lock_bad_references_are_reported_and_the_rest_is_read() -> None:
    parsed = _parse("edge-cases/conan", "conan.lock")
    assert [(p.name, p.version) for p in parsed.packages] == [("cmake", "3.27.4"), ("pyreq", "0.1"), ("zlib", "1.2.13")]
    assert [entry.name for entry in parsed.unscannable] == ["not a reference", "(an entry without a name)", "mylib"]


@pytest.mark.parametrize("content", ['{"version": "0.5"}', "[]", '{"graph_lock": []}', '{"requires": {}}'])
def test_conan_lock_of_an_unknown_shape_is_malformed(content: str) -> None:
    with pytest.raises(MalformedLockfile) as caught:
        parse_lockfile("conan.lock", content)
    assert "unexpected structure" not in caught.value.reason
