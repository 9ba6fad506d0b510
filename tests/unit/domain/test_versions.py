"""Version ordering per ecosystem, checked against the real tools where they are installed."""

from __future__ import annotations

import functools
import itertools
import json
import os
import random
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import Version
from univers.gem import GemVersion
from univers.versions import NugetVersion

from secapi.domain.versions import _SCHEMES, compare_versions, has_version_order, scheme_for_ecosystem
from secapi.domain.versions.digits import INT_SAFE_DIGITS, digit_run_key

ECOSYSTEMS = [
    "Debian:12", "Ubuntu:22.04:LTS", "Alpine:v3.18", "PyPI", "npm", "Go", "crates.io",
    "Hex", "Maven", "RubyGems", "Packagist", "NuGet", "Red Hat:rhel_aus:8.4::appstream",
    "SUSE:Linux Enterprise Server 15 SP5", "Pub", "Hackage", "GHC", "CRAN", "SomethingNew",
]  # fmt: skip
KEYED_ECOSYSTEMS = [e for e in ECOSYSTEMS if e != "Maven"]


_IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
"""Under CI the oracles (node-semver, maven-artifact, rpm) must be there: a missing one fails rather than skips."""


def _sorted(ecosystem: str, versions: list[str]) -> list[str]:
    def compare(a: str, b: str) -> int:
        return compare_versions(ecosystem, a, b)

    return sorted(versions, key=functools.cmp_to_key(compare))


# --- Debian / Ubuntu: the real dpkg decides --------------------------------

_DPKG_PIECES = ["0", "1", "2", "9", "10", "01", "00", "123", "a", "b", "z", "A", "Z", "rc", "dfsg", ".", "+", "~", "~~"]


def _dpkg_part(rng: random.Random, *, leading_digit: bool) -> str:
    text = rng.choice(["0", "1", "2", "10", "01"]) if leading_digit else ""
    return text + "".join(rng.choice(_DPKG_PIECES) for _ in range(rng.randint(0 if leading_digit else 1, 5)))


def _dpkg_version(rng: random.Random) -> str:
    upstream = _dpkg_part(rng, leading_digit=True)
    revision = _dpkg_part(rng, leading_digit=False) if rng.random() < 0.5 else None
    if revision is not None and rng.random() < 0.2:
        upstream += "-" + _dpkg_part(rng, leading_digit=True)  # a hyphen inside upstream
    epoch = rng.choice(["0:", "1:", "2:", "10:"]) if rng.random() < 0.2 else ""
    if epoch and rng.random() < 0.2:
        upstream += ":" + _dpkg_part(rng, leading_digit=True)  # a colon inside upstream
    return epoch + upstream + ("" if revision is None else "-" + revision)


def _dpkg_holds(checks: list[tuple[str, str, str]]) -> list[bool]:
    """Run `dpkg --compare-versions a op b` for each check, in a few parallel shells."""
    assert shutil.which("dpkg"), "dpkg must be installed: it is the oracle for Debian ordering"

    def run(batch: list[tuple[str, str, str]]) -> list[bool]:
        script = "".join(f"dpkg --compare-versions '{a}' {op} '{b}' 2>/dev/null; echo $?\n" for a, op, b in batch)
        out = subprocess.run(["sh"], input=script, capture_output=True, text=True, check=True).stdout.split()
        return [code == "0" for code in out]

    size = len(checks) // 4 + 1
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = pool.map(run, [checks[i : i + size] for i in range(0, len(checks), size)])
    return [ok for batch in results for ok in batch]


def test_dpkg_order_matches_real_dpkg_on_generated_versions() -> None:
    rng = random.Random(20240611)
    pool = sorted({_dpkg_version(rng) for _ in range(700)})
    ordered = _sorted("Debian:12", pool)
    # Checking each neighbour in our order proves the whole order (dpkg's is
    # a total preorder), about 200,000 pairs; random pairs check it directly.
    pairs = list(itertools.pairwise(ordered)) + [(rng.choice(pool), rng.choice(pool)) for _ in range(1500)]
    ops = {-1: "lt", 0: "eq", 1: "gt"}
    checks = [(a, ops[compare_versions("Debian:12", a, b)], b) for a, b in pairs]
    # A claim dpkg must reject proves the harness can see a disagreement.
    checks.append(("2.0", "lt", "1.0"))
    verdicts = _dpkg_holds(checks)
    assert len(verdicts) == len(checks)
    assert verdicts[-1] is False
    wrong = [check for check, ok in zip(checks[:-1], verdicts[:-1], strict=True) if not ok]
    assert wrong == []
    assert len({compare_versions("Debian:12", a, b) for a, b in pairs}) == 3


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.0~rc1", "1.0", -1),
        ("1:0.1", "9.9", 1),
        ("0:1.0", "1.0", 0),
        ("1.0", "1.0-0", 0),
        ("1.0~~", "1.0~", -1),
        ("1.0", "1.0a", -1),
        ("1.0a", "1.0+", -1),
        ("1.00", "1.0", 0),
        ("2.30-1ubuntu0.1", "2.30-1ubuntu0.2", -1),
        ("1.2.3+dfsg-1", "1.2.3-1", 1),
        ("7.88.1-10+deb12u5", "7.88.1-10+deb12u12", -1),
    ],
)
def test_debian_edge_cases(a: str, b: str, expected: int) -> None:
    assert compare_versions("Debian:12", a, b) == expected
    assert compare_versions("Ubuntu:22.04:LTS", a, b) == expected


# --- Alpine: apk-tools 2.x's rules ----------------------------------------------

ALPINE_ASCENDING = [
    "1.2.3_alpha",
    "1.2.3_alpha1",
    "1.2.3_alpha2",
    "1.2.3_beta",
    "1.2.3_pre1",
    "1.2.3_rc1",
    "1.2.3",
    "1.2.3-r1",
    "1.2.3-r9",
    "1.2.3_cvs",
    "1.2.3_svn",
    "1.2.3_git20240101",
    "1.2.3_hg",
    "1.2.3_p1",
    "1.2.3_p1-r1",
    "1.2.3a",
    "1.2.3a1",
    "1.2.3b",
    "1.2.3p1-r0",
    "1.2.3p1-r2",
    "1.2.3p2",
    "1.2.3.1",
    "1.2.4",
    "1.10",
    "007",
]


def test_alpine_order_follows_apk_token_rules() -> None:
    shuffled = ALPINE_ASCENDING[::-1]
    assert _sorted("Alpine:v3.18", shuffled) == ALPINE_ASCENDING


# Each answer below is apk-tools 2.14's (see apk_tools_2_14_decided.tsv).
@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # A digit may follow a letter: these once compared equal, so an
        # installed 6.6.1p1-r0 looked fixed by 6.6.1p1-r2.
        ("5.7.1p1-r0", "5.7.1p1-r1", -1),
        ("6.6.1p1-r0", "6.6.1p1-r2", -1),
        ("9.3p2-r1", "9.3p10-r0", -1),
        ("1.0a1", "1.0b", -1),
        ("1.0p1", "1.0_p1", 1),
        ("1.2.3_rc1", "1.2.3", -1),
        ("1.2.3-r1", "1.2.3", 1),
        ("1.2.3_p1", "1.2.3-r9", 1),
        ("1.0.2_pre", "1.0.2_p", -1),
        # Leading zeros: an extra token of minus the extra zeros, then the number.
        ("1.05", "1.5", -1),
        ("1.00", "1.0", -1),
        ("1.010", "1.09", 1),
        ("1.10", "1.9", 1),
        ("007", "1.10", 1),
        # Invalid tails: an unknown suffix loses, any other invalid token wins.
        ("2.0", "2.0xy", -1),
        ("1.0_foo", "1.0", -1),
        ("1.0_prefoo", "1.0_rc", -1),
        ("1.0_rc1x", "1.0_rc1", 1),
        ("1.0-x", "1.0", 1),
        ("1.0-r", "1.0", 1),
        ("1.0~1234-r1", "1.0~2345-r0", 0),  # apk 3's commit hash is invalid in 2.x
        ("123456789012345678", "1", -1),  # 18 digits are invalid
        ("abc", "0", 1),
        ("1.0_rc1-r3", "1.0_rc1-r2", 1),
    ],
)
def test_alpine_edge_cases(a: str, b: str, expected: int) -> None:
    assert compare_versions("Alpine:v3.18", a, b) == expected
    assert compare_versions("Alpine:v3.18", b, a) == -expected


def _apk_tools_decided() -> list[tuple[str, str, int]]:
    table = Path(__file__).with_name("apk_tools_2_14_decided.tsv").read_text()
    rows = [line.split("\t") for line in table.splitlines() if line and not line.startswith("#")]
    return [(a, b, int(answer)) for a, b, answer in rows]


def test_alpine_order_matches_apk_tools_2_14_on_generated_versions() -> None:
    decided = _apk_tools_decided()
    assert len(decided) > 400
    assert {answer for _, _, answer in decided} == {-1, 0, 1}
    wrong = [(a, b, answer) for a, b, answer in decided if compare_versions("Alpine:v3.22", a, b) != answer]
    assert wrong == []


@pytest.mark.parametrize("ecosystem", ["Wolfi", "Chainguard"])
def test_wolfi_and_chainguard_order_like_alpine(ecosystem: str) -> None:
    assert compare_versions(ecosystem, "6.6.1p1-r0", "6.6.1p1-r2") == -1


# --- SemVer ecosystems --------------------------------------------------------

SEMVER_ASCENDING = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.10.0",
    "2.0.0",
]


@pytest.mark.parametrize("ecosystem", ["npm", "crates.io", "Go", "Hex"])
def test_semver_precedence_example_from_the_spec(ecosystem: str) -> None:
    assert _sorted(ecosystem, SEMVER_ASCENDING[::-1]) == SEMVER_ASCENDING


@pytest.mark.parametrize(
    ("ecosystem", "a", "b", "expected"),
    [
        ("npm", "1.0.0-alpha", "1.0.0", -1),
        ("npm", "1.0.0+build.1", "1.0.0+build.2", 0),
        ("npm", "1.0.0-Beta", "1.0.0-beta", -1),  # ASCII order: upper case first
        ("Go", "v1.2.3", "1.2.3", 0),
        ("Go", "v1.2.3+incompatible", "v1.2.3", 0),
        ("Go", "v2.0.0+incompatible", "v1.9.9", 1),
        ("Go", "v0.0.0-20210101000000-abcdef123456", "v0.0.0-20220101000000-123456abcdef", -1),
        ("Go", "v0.0.0-20210101000000-abcdef123456", "v0.0.1", -1),
        ("Go", "v1.2.4-0.20210101000000-abcdef123456", "v1.2.3", 1),
        ("Go", "v1.2.4-0.20210101000000-abcdef123456", "v1.2.4", -1),
        ("crates.io", "0.10.0", "0.9.9", 1),
        ("Hex", "1.0.0-rc.0", "1.0.0", -1),
        ("npm", "not-a-version", "0.0.0", -1),
    ],
)
def test_semver_edge_cases(ecosystem: str, a: str, b: str, expected: int) -> None:
    assert compare_versions(ecosystem, a, b) == expected


def _node_semver() -> Path | None:
    node = shutil.which("node")
    if node is None:
        return None
    bundled = Path(node).resolve().parent.parent / "lib" / "node_modules" / "npm" / "node_modules" / "semver"
    debian = Path("/usr/share/nodejs/semver")  # Debian's node-semver package
    return next((module for module in (bundled, debian) if module.is_dir()), None)


@pytest.mark.skipif(
    _node_semver() is None and not _IN_CI,
    reason="node and npm's bundled semver are not installed (required under CI=true)",
)
def test_npm_order_matches_node_semver() -> None:
    assert _node_semver() is not None, "node and npm's bundled semver are required under CI=true"
    rng = random.Random(7)
    identifiers = ["alpha", "beta", "rc", "0", "1", "2", "10", "x-y", "Alpha", "a1", "1a"]

    def version() -> str:
        text = ".".join(str(rng.choice([0, 1, 2, 10, 11])) for _ in range(3))
        if rng.random() < 0.5:
            text += "-" + ".".join(rng.choice(identifiers) for _ in range(rng.randint(1, 3)))
        return text + ("+build." + str(rng.randint(0, 9)) if rng.random() < 0.2 else "")

    pool = sorted({version() for _ in range(400)})
    pairs = [(rng.choice(pool), rng.choice(pool)) for _ in range(3000)]
    script = (
        f"const s = require({json.dumps(str(_node_semver()))});"
        "const pairs = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "console.log(JSON.stringify(pairs.map(([a, b]) => s.compare(a, b))));"
    )
    node = subprocess.run(["node", "-e", script], input=json.dumps(pairs), capture_output=True, text=True, check=True)
    expected = json.loads(node.stdout)
    assert [compare_versions("npm", a, b) for a, b in pairs] == expected
    assert set(expected) == {-1, 0, 1}


# --- PyPI -------------------------------------------------------------------

_pep440 = st.builds(
    lambda epoch, release, pre, post, dev, local: epoch + release + pre + post + dev + local,
    st.sampled_from(["", "", "1!"]),
    st.lists(st.integers(0, 12), min_size=1, max_size=4).map(lambda parts: ".".join(map(str, parts))),
    st.sampled_from(["", "", "a1", "b2", "rc1", "rc10", "alpha3", "-preview1", "c1"]),
    st.sampled_from(["", "", ".post1", "-1", ".post0"]),
    st.sampled_from(["", "", ".dev0", ".dev3"]),
    st.sampled_from(["", "", "", "+local.7", "+ubuntu1"]),
)


@given(_pep440, _pep440)
def test_pypi_valid_versions_order_exactly_as_packaging(a: str, b: str) -> None:
    expected = (Version(a) > Version(b)) - (Version(a) < Version(b))
    assert compare_versions("PyPI", a, b) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.0", "1.0.0", 0),
        ("1.0a1", "1.0", -1),
        ("1.0.dev0", "1.0a1", -1),
        ("1.0.post1", "1.0", 1),
        ("1!0.1", "2024.1", 1),
        ("1.0+local", "1.0", 1),
        ("V1.0", "1.0", 0),
        # Legacy (not PEP 440) strings sort first, and among themselves by the old setuptools key.
        ("not a version", "0.0.0.dev0", -1),
        ("1.0.0-SNAPSHOT", "1.0.1-SNAPSHOT", -1),
        ("2004d", "2004e", -1),
        ("1.0-beta-final", "1.0-beta-final", 0),
    ],
)
def test_pypi_edge_cases(a: str, b: str, expected: int) -> None:
    assert compare_versions("PyPI", a, b) == expected


# --- Maven ------------------------------------------------------------------

# Each answer below was produced by maven-artifact 3.8.7's ComparableVersion.
MAVEN_DECIDED = [
    ("1", "1.0", 0),
    ("1.0.0", "1-ga", 0),
    ("1-final", "1.release", 0),
    ("1-alpha", "1", -1),
    ("1-alpha", "1-beta", -1),
    ("1-beta", "1-milestone", -1),
    ("1-milestone", "1-rc", -1),
    ("1-rc", "1-cr", 0),
    ("1-rc", "1-snapshot", -1),
    ("1-snapshot", "1", -1),
    ("1", "1-sp", -1),
    ("1-sp", "1-foo", -1),
    ("1-foo", "1-bar", 1),
    ("1-a1", "1-alpha-1", 0),
    ("1-m1", "1-milestone-1", 0),
    ("1.0-alpha10", "1.0-alpha2", 1),
    ("1.0-SNAPSHOT", "1.0", -1),
    ("1.0-RC1", "1.0-rc-1", 0),
    ("1.cr", "1-rc", 0),
    ("1.1", "1-1", 1),
    ("1.0.1", "1.0-1", 1),
    ("1-1", "1-sp", 1),
    ("1.2.3.RELEASE", "1.2.3", 0),
    ("2.0.0.M1", "2.0.0.RC1", -1),
    ("2.0.0", "2.0.0.SP1", -1),
    ("1.0.1", "1.0.0.1", 1),
    ("1.0-jre", "1.0", 1),
    ("31.1-jre", "31.1-android", 1),
    ("1.x", "1.0", 1),
    ("1-0.1", "1.0.1", -1),
    ("0.release", "0", 0),
    ("1.0000000000.1", "1.999999999.1", 1),  # an all-zero 10-digit number is a Long zero
    ("1-0.1", "1", 1),  # a sub-list counts all its items against nothing (MNG-6964)
    ("1-0-alpha", "1", -1),
    ("1.0.0-0.0.0", "1", 0),
]


@pytest.mark.parametrize(("a", "b", "expected"), MAVEN_DECIDED)
def test_maven_matches_comparable_version(a: str, b: str, expected: int) -> None:
    # univers gets e.g. "1.cr" == "1-rc" and "0.release" == "0" wrong.
    assert compare_versions("Maven", a, b) == expected
    assert compare_versions("Maven", b, a) == -expected


def _maven_artifact_jar() -> Path | None:
    mvn = shutil.which("mvn")
    if mvn is None or shutil.which("java") is None:
        return None
    jars = sorted((Path(mvn).resolve().parent.parent / "lib").glob("maven-artifact-*.jar"))
    return jars[0] if jars else None


_MAVEN_ORACLE = """
import org.apache.maven.artifact.versioning.ComparableVersion;
public class Oracle {
  public static void main(String[] args) throws Exception {
    var in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in));
    for (String line; (line = in.readLine()) != null; ) {
      String[] p = line.split("\\t", -1);
      System.out.println(Integer.signum(new ComparableVersion(p[0]).compareTo(new ComparableVersion(p[1]))));
    }
  }
}
"""


@pytest.mark.skipif(
    _maven_artifact_jar() is None and not _IN_CI,
    reason="java and Maven's maven-artifact jar are not installed (required under CI=true)",
)
def test_maven_order_matches_maven_on_generated_versions(tmp_path: Path) -> None:
    jar = _maven_artifact_jar()
    assert jar is not None, "java and Maven's maven-artifact jar are required under CI=true (Debian: maven)"
    rng = random.Random(11)
    words = ["alpha", "beta", "milestone", "rc", "cr", "SNAPSHOT", "ga", "final", "release", "sp", "a", "m", "foo"]
    numbers = ["0", "1", "2", "10", "01", "007", "1234567890", "000000000000", "99999999999999999999"]

    def version() -> str:
        text = rng.choice(numbers)
        for _ in range(rng.randint(0, 5)):
            text += rng.choice([".", "-", "", "_"]) + rng.choice(numbers if rng.random() < 0.55 else words)
        return text

    pool = sorted({version() for _ in range(500)})
    pairs = [(rng.choice(pool), rng.choice(pool)) for _ in range(2000)]
    # Versions sharing a prefix exercise how a longer list meets nothing.
    pairs += [(a, a + rng.choice([".", "-"]) + version()) for a in rng.sample(pool, 300)]
    pairs += [(a, a + rng.choice(["-0", ".0", "-0.1", "-0-a"])) for a in rng.sample(pool, 300)]
    source = tmp_path / "Oracle.java"
    source.write_text(_MAVEN_ORACLE)
    java = subprocess.run(
        ["java", "-cp", str(jar), str(source)],
        input="".join(f"{a}\t{b}\n" for a, b in pairs),
        capture_output=True,
        text=True,
        check=True,
    )
    expected = [int(line) for line in java.stdout.split()]
    assert [compare_versions("Maven", a, b) for a, b in pairs] == expected


# --- RubyGems, NuGet, Packagist -------------------------------------------------

_gem_segment = st.sampled_from(["0", "0", "1", "2", "10", "a", "b", "pre", "rc", "A", "beta1", "0a", "1b2"])
_gem = st.builds(
    lambda head, rest: head + "".join(rest),
    st.sampled_from(["0", "1", "2", "10"]),
    st.lists(st.tuples(st.sampled_from([".", ".", "-"]), _gem_segment).map("".join), max_size=5),
)


@given(_gem, _gem)
def test_rubygems_order_agrees_with_univers_gem_version(a: str, b: str) -> None:
    # univers ports Gem::Version faithfully but re-parses on every comparison.
    left, right = GemVersion(a), GemVersion(b)  # type: ignore[no-untyped-call]
    assert compare_versions("RubyGems", a, b) == (left > right) - (left < right)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.0", "1", 0),
        ("1.0.a", "1.0", -1),
        ("1.0.0-rc1", "1.0.0", -1),
        ("1.0.0.rc1", "1.0.0.beta2", 1),
        ("5.0.0.1", "5.0.0", 1),
        ("1.a", "1.a.0", 0),
        ("1.0.0.pre", "1.0.0-pre", 1),  # "-" reads as ".pre.", one more string segment
        ("", "0", 0),
        ("not valid!", "0", -1),
    ],
)
def test_rubygems_edge_cases(a: str, b: str, expected: int) -> None:
    assert compare_versions("RubyGems", a, b) == expected


_nuget = st.builds(
    lambda core, pre, meta: core + pre + meta,
    st.lists(st.integers(0, 10), min_size=1, max_size=4).map(lambda parts: ".".join(map(str, parts))),
    st.sampled_from(["", "", "-alpha", "-Alpha", "-beta.2", "-BETA.10", "-rc.1", "-rc.1.x", "-0", "-a1"]),
    st.sampled_from(["", "", "+meta"]),
)


@given(_nuget, _nuget)
def test_nuget_order_agrees_with_univers_nuget_version(a: str, b: str) -> None:
    left, right = NugetVersion(a), NugetVersion(b)
    assert compare_versions("NuGet", a, b) == (left > right) - (left < right)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.0", "1.0.0.0", 0),
        ("1.0.0.1", "1.0.0", 1),
        ("1.0.0-Beta", "1.0.0-beta", 0),
        ("1.0.0-beta.10", "1.0.0-BETA.9", 1),
        ("1.0.0-rc.1", "1.0.0", -1),
        ("1.0.0+abc", "1.0.0", 0),
    ],
)
def test_nuget_edge_cases(a: str, b: str, expected: int) -> None:
    assert compare_versions("NuGet", a, b) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.0", "1.0.0.0", 0),
        ("v1.2.3", "1.2.3", 0),
        ("1.0.0-dev", "1.0.0-alpha1", -1),
        ("1.0.0-alpha2", "1.0.0-beta1", -1),
        ("1.0.0-b2", "1.0.0-beta2", 0),
        ("1.0.0-beta3", "1.0.0-RC1", -1),  # univers, reading SemVer, puts RC first
        ("1.0.0-RC1", "1.0.0", -1),
        ("1.0.0-p1", "1.0.0", 1),  # a patch release follows its base; univers says before
        ("1.0.0-pl2", "1.0.0-patch1", 1),
        ("1.0.0.1", "1.0.0", 1),  # univers drops the fourth number
        ("2.x-dev", "2.99.0", 1),
        ("1.0.0+build7", "1.0.0", 0),
    ],
)
def test_packagist_edge_cases(a: str, b: str, expected: int) -> None:
    assert compare_versions("Packagist", a, b) == expected
    assert compare_versions("Packagist:https://packages.drupal.org/8", a, b) == expected


# --- Unknown ecosystems -----------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.0", "1.0.1", -1),
        ("1.0.0", "1", 0),
        ("1.0a", "1.0", 1),
        ("1.10", "1.9", 1),
        ("R2024", "r2024", 0),
        ("abc", "1", -1),
    ],
)
def test_unknown_ecosystem_uses_the_generic_order(a: str, b: str, expected: int) -> None:
    assert scheme_for_ecosystem("SomethingNew").name == "generic"
    assert compare_versions("SomethingNew", a, b) == expected


def test_ecosystem_suffixes_and_case_pick_the_base_scheme() -> None:
    assert scheme_for_ecosystem("Ubuntu:Pro:18.04:LTS").name == "dpkg"
    assert scheme_for_ecosystem("Debian").name == "dpkg"
    assert scheme_for_ecosystem("Maven:https://maven.google.com").name == "maven"
    assert scheme_for_ecosystem("pypi").name == "pep440"
    assert scheme_for_ecosystem("Alpine:v3.18").name == "apk"
    assert scheme_for_ecosystem("Red Hat:rhel_aus:8.4::appstream").name == "rpm"
    assert scheme_for_ecosystem("openEuler:22.03-LTS-SP3").name == "rpm"
    assert scheme_for_ecosystem("Photon OS:3.0").name == "rpm"
    assert scheme_for_ecosystem("Pub").name == "pub"
    assert scheme_for_ecosystem("GHC").name == "pvp"
    assert scheme_for_ecosystem("Bioconductor").name == "cran"


@pytest.mark.parametrize(
    "ecosystem",
    [
        "Debian:12", "Ubuntu:Pro:18.04:LTS", "Alpine:v3.22", "Wolfi", "Chainguard", "PyPI", "npm", "crates.io",
        "Go", "Hex", "NuGet", "Maven:https://maven.google.com", "RubyGems", "Packagist",
        "Red Hat:rhel_aus:8.4::appstream", "Rocky Linux:9", "AlmaLinux:8", "openSUSE:Tumbleweed",
        "SUSE:Linux Enterprise Server 15 SP5", "Mageia:9", "Photon OS:5.0", "Azure Linux:3",
        "openEuler:22.03-LTS-SP3", "Pub", "Hackage", "GHC", "CRAN", "Bioconductor",
    ],
)  # fmt: skip
def test_registered_ecosystems_have_a_version_order(ecosystem: str) -> None:
    assert has_version_order(ecosystem)
    assert scheme_for_ecosystem(ecosystem).name != "generic"


@pytest.mark.parametrize("ecosystem", ["SomethingNew", "Julia", "GitHub Actions", "Linux", "OSS-Fuzz", ""])
def test_unknown_ecosystems_have_no_version_order(ecosystem: str) -> None:
    assert not has_version_order(ecosystem)
    assert scheme_for_ecosystem(ecosystem).name == "generic"


# --- Properties every scheme must have ---------------------------------------------

_versionish = st.text(alphabet="0123456789.-_~+:abprcvxAZ", max_size=12)
_any_text = st.one_of(_versionish, st.text(max_size=12))


@given(st.sampled_from(ECOSYSTEMS), _any_text, _any_text)
def test_any_strings_compare_without_error_reflexively_and_antisymmetrically(ecosystem: str, a: str, b: str) -> None:
    result = compare_versions(ecosystem, a, b)
    assert result in (-1, 0, 1)
    assert compare_versions(ecosystem, b, a) == -result
    assert compare_versions(ecosystem, a, a) == 0


@given(st.sampled_from(KEYED_ECOSYSTEMS), st.lists(_any_text, min_size=3, max_size=3))
def test_order_is_transitive(ecosystem: str, versions: list[str]) -> None:
    low, middle, high = _sorted(ecosystem, versions)
    assert compare_versions(ecosystem, low, middle) <= 0
    assert compare_versions(ecosystem, middle, high) <= 0
    assert compare_versions(ecosystem, low, high) <= 0


_maven_realistic = st.builds(
    lambda numbers, qualifier: ".".join(map(str, numbers)) + qualifier,
    st.lists(st.integers(0, 12), min_size=1, max_size=4),
    st.sampled_from(["", "-alpha-1", "-beta2", ".M1", "-RC1", ".cr2", "-SNAPSHOT", ".Final", "-ga", "-sp1", "-jre"]),
)


@given(st.lists(_maven_realistic, min_size=3, max_size=3))
def test_maven_order_is_transitive_on_real_world_shapes(versions: list[str]) -> None:
    # Maven's own ComparableVersion is not transitive on odd strings
    # ("dev-1+007-bFinal.00" < "0.alpha" < "ga" < "dev-1+007-bFinal.00"), and
    # this implementation reproduces Maven rather than inventing an order.
    low, _, high = _sorted("Maven", versions)
    assert compare_versions("Maven", low, high) <= 0


_release = st.lists(st.integers(0, 30), min_size=1, max_size=3).map(lambda parts: ".".join(map(str, parts)))


@given(_release)
def test_equivalent_spellings_are_equal(release: str) -> None:
    assert compare_versions("PyPI", release, release + ".0") == 0
    assert compare_versions("Go", "v" + release, release) == 0
    assert compare_versions("Go", "v" + release + "+incompatible", release) == 0
    assert compare_versions("npm", release + "+build.9", release) == 0
    assert compare_versions("Debian:12", "0:" + release, release) == 0
    assert compare_versions("Debian:12", release + "-0", release) == 0
    assert compare_versions("RubyGems", release, release + ".0") == 0
    assert compare_versions("Maven", release, release + ".0-ga") == 0
    assert compare_versions("Packagist", "v" + release, release + ".0") == 0
    assert compare_versions("NuGet", release, release + ".0") == 0


_PRE_RELEASE_SUFFIX = {
    "Debian:12": "~rc1",
    "Alpine:v3.18": "_rc1",
    "PyPI": "rc1",
    "npm": "-rc.1",
    "Maven": "-RC1",
    "RubyGems": ".rc1",
    "NuGet": "-rc.1",
    "Red Hat:rhel_aus:8.4::appstream": "~rc1",
    "Pub": "-rc.1",
}


@given(_release, st.sampled_from(sorted(_PRE_RELEASE_SUFFIX)))
def test_a_pre_release_sorts_before_its_release(release: str, ecosystem: str) -> None:
    pre = _PRE_RELEASE_SUFFIX[ecosystem]
    if ecosystem in ("npm", "Pub"):
        release = ".".join([*release.split("."), "0", "0"][:3])
    assert compare_versions(ecosystem, release + pre, release) == -1


# --- Digit runs too long for int() ---------------------------------------------
# int() refuses more than 4,300 digits by default; a lockfile can hold such a version.

_HUGE = "1" * 5000
_HUGE_VERSIONS = [_HUGE, "1." + "9" * 5000, "1.0-" + "7" * 5000, "0" * 5000 + "1"]


@pytest.mark.parametrize("ecosystem", [*_SCHEMES, "SomethingNew"])
@pytest.mark.parametrize("huge", _HUGE_VERSIONS)
@pytest.mark.parametrize("other", ["1.0", "2", _HUGE])
def test_versions_with_huge_digit_runs_compare_without_error_and_antisymmetrically(
    ecosystem: str, huge: str, other: str
) -> None:
    result = compare_versions(ecosystem, huge, other)
    assert result in (-1, 0, 1)
    assert compare_versions(ecosystem, other, huge) == -result
    assert compare_versions(ecosystem, huge, huge) == 0


@pytest.mark.parametrize("ecosystem", ["Debian:12", "npm", "Go", "NuGet", "Maven", "RubyGems", "Packagist"])
def test_huge_numbers_keep_their_numeric_place(ecosystem: str) -> None:
    assert compare_versions(ecosystem, "1." + "9" * 5000, "1.2") == 1
    assert compare_versions(ecosystem, "1." + "9" * 5000, "1." + "9" * 4999) == 1
    assert compare_versions(ecosystem, "1." + "9" * 5000, "1." + "1" + "0" * 5000) == -1
    assert compare_versions(ecosystem, "1." + "8" * 5000, "1." + "9" * 5000) == -1
    assert compare_versions(ecosystem, "1." + "0" * 5000 + "3", "1.3") == 0
    assert compare_versions(ecosystem, "2." + "9" * 5000, "1" + "0" * 5000) == -1


def test_pypi_reads_a_huge_digit_run_as_a_legacy_version() -> None:
    # packaging cannot read it under every int() limit, so it sorts before every valid version.
    assert compare_versions("PyPI", "1." + "9" * 5000, "0.0.1.dev0") == -1
    assert compare_versions("PyPI", "1." + "9" * (INT_SAFE_DIGITS + 1), "0.0.1.dev0") == -1
    assert compare_versions("PyPI", "1." + "9" * INT_SAFE_DIGITS, "1." + "9" * (INT_SAFE_DIGITS - 1)) == 1


@pytest.mark.parametrize(
    ("smaller", "larger"),
    [
        ("9" * INT_SAFE_DIGITS, "1" + "0" * INT_SAFE_DIGITS),
        ("0" * 5000 + "9" * INT_SAFE_DIGITS, "1" + "0" * INT_SAFE_DIGITS),
        ("9" * 5000, "1" + "0" * 5000),
        ("1" + "0" * 4999, "1" + "0" * 4998 + "1"),
        ("0" * 5000, "1"),
    ],
)
def test_digit_run_keys_order_as_the_numbers_do(smaller: str, larger: str) -> None:
    assert digit_run_key(smaller) < digit_run_key(larger)
    assert digit_run_key("0" * 5000 + larger) == digit_run_key(larger)
