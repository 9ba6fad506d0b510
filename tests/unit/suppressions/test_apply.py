"""What a tenant's ignore rules and VEX statements do to a result at answer time (`ActiveSuppressions.apply`)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from secapi.domain.errors import InvalidInput
from secapi.domain.package_patterns import PackagePattern, advisory_id
from secapi.domain.suppressions import NO_SUPPRESSIONS, ActiveSuppressions

from support.suppressions import (
    BABEL,
    IMAGE_DIGEST,
    LODASH,
    MINIMIST,
    T0,
    document,
    result,
    rule,
    statement,
    stored,
)


def ids(findings: tuple[object, ...]) -> list[str]:
    return [f.id for f in findings]  # type: ignore[attr-defined]


def test_a_rule_on_a_cve_suppresses_the_ghsa_finding_listing_it_as_an_alias() -> None:
    rules = rule("cve-2021-23337")
    answered = ActiveSuppressions.of([rules], [], T0).apply(result(LODASH, MINIMIST))
    assert ids(answered.vulnerabilities) == [MINIMIST.id]
    (hidden,) = answered.suppressed
    assert hidden.id == LODASH.id
    assert hidden.package == LODASH.package
    assert hidden.suppressed_by.kind == "ignore"
    assert hidden.suppressed_by.id == str(rules.id)
    assert hidden.suppressed_by.reason == "accepted: cve-2021-23337"
    assert answered.counts == {"CRITICAL": 1, "HIGH": 0, "MEDIUM": 0, "LOW": 0, "UNKNOWN": 0}


def test_the_stored_result_is_untouched() -> None:
    stored_result = result(LODASH)
    ActiveSuppressions.of([rule(LODASH.id)], [], T0).apply(stored_result)
    assert ids(stored_result.vulnerabilities) == [LODASH.id]
    assert stored_result.suppressed == ()


@pytest.mark.parametrize(
    ("pattern", "suppressed"),
    [
        ("lodash", True),
        ("LoDash", True),
        ("lod*", True),
        ("minimist", False),
        ("pkg:npm/lodash", True),
        ("pkg:npm/lodash@4.17.20", True),
        ("pkg:npm/lodash@4.17.*", True),
        ("pkg:npm/lodash@4.18.0", False),
        ("pkg:pypi/lodash", False),
    ],
)
def test_package_patterns(pattern: str, suppressed: bool) -> None:
    answered = ActiveSuppressions.of([rule(LODASH.id, pattern)], [], T0).apply(result(LODASH))
    assert bool(answered.suppressed) is suppressed
    assert len(answered.vulnerabilities) == (0 if suppressed else 1)


def test_scoped_npm_names_match_encoded_or_not() -> None:
    for pattern in ("@babel/*", "pkg:npm/@babel/traverse", "pkg:npm/%40babel/*@7.*"):
        answered = ActiveSuppressions.of([rule(BABEL.id, pattern)], [], T0).apply(result(BABEL, LODASH))
        assert ids(answered.suppressed) == [BABEL.id], pattern


def test_an_expired_rule_stops_applying() -> None:
    expiring = rule(LODASH.id, expires_at=T0 + timedelta(days=1))
    assert ActiveSuppressions.of([expiring], [], T0).apply(result(LODASH)).suppressed
    later = ActiveSuppressions.of([expiring], [], T0 + timedelta(days=1))
    assert later is NO_SUPPRESSIONS
    assert ids(later.apply(result(LODASH)).vulnerabilities) == [LODASH.id]


def test_the_stamp_changes_with_what_applies() -> None:
    one, two = rule(LODASH.id), rule(MINIMIST.id)
    assert ActiveSuppressions.of([one], [], T0).stamp == ActiveSuppressions.of([one], [], T0).stamp
    assert ActiveSuppressions.of([one], [], T0).stamp != ActiveSuppressions.of([one, two], [], T0).stamp


def test_vex_not_affected_suppresses_and_affected_only_annotates() -> None:
    vex = stored(
        document(
            statement(
                "CVE-2021-23337",
                "not_affected",
                {"@id": "pkg:npm/lodash@4.17.20"},
                justification="vulnerable_code_not_in_execute_path",
                impact_statement="template() is never called",
            ),
            statement(
                MINIMIST.id,
                "affected",
                {"@id": "pkg:npm/minimist"},
                action_statement="upgrade to 1.2.6",
            ),
        )
    )
    answered = ActiveSuppressions.of([], [vex], T0).apply(result(LODASH, MINIMIST))
    assert ids(answered.vulnerabilities) == [MINIMIST.id]
    (hidden,) = answered.suppressed
    assert hidden.suppressed_by.kind == "vex"
    assert hidden.suppressed_by.id == str(vex.id)
    assert hidden.suppressed_by.statement == 0
    assert hidden.suppressed_by.status == "not_affected"
    assert hidden.suppressed_by.justification == "vulnerable_code_not_in_execute_path"
    assert hidden.suppressed_by.reason == "vulnerable_code_not_in_execute_path: template() is never called"
    (note,) = answered.vex
    assert (note.finding, note.status, note.statement, note.action_statement) == (
        MINIMIST.id,
        "affected",
        1,
        "upgrade to 1.2.6",
    )
    assert answered.counts["CRITICAL"] == 1


def test_vex_fixed_suppresses_and_another_version_is_not_covered() -> None:
    vex = stored(document(statement(LODASH.id, "fixed", {"@id": "pkg:npm/lodash@4.17.21"})))
    assert not ActiveSuppressions.of([], [vex], T0).apply(result(LODASH)).suppressed
    vex = stored(document(statement(LODASH.id, "fixed", {"identifiers": {"purl": "pkg:npm/lodash@4.17.20"}})))
    (hidden,) = ActiveSuppressions.of([], [vex], T0).apply(result(LODASH)).suppressed
    assert hidden.suppressed_by.status == "fixed"


def test_the_latest_statement_about_a_finding_wins() -> None:
    product = {"@id": "pkg:npm/lodash"}
    early = stored(document(statement(LODASH.id, "not_affected", product, justification="component_not_present")))
    late = stored(
        document(
            statement(LODASH.id, "under_investigation", product, timestamp="2026-02-01T00:00:00Z"),
        )
    )
    answered = ActiveSuppressions.of([], [early, late], T0).apply(result(LODASH))
    assert ids(answered.vulnerabilities) == [LODASH.id]
    assert [n.status for n in answered.vex] == ["under_investigation"]


def test_an_image_product_covers_its_subcomponents_only_in_that_image() -> None:
    product = {"@id": f"pkg:oci/web@{IMAGE_DIGEST}", "subcomponents": [{"@id": "pkg:npm/lodash@4.17.20"}]}
    vex = stored(document(statement(LODASH.id, "not_affected", product, justification="component_not_present")))
    active = ActiveSuppressions.of([], [vex], T0)
    assert ids(active.apply(result(LODASH, image=True)).suppressed) == [LODASH.id]
    assert active.apply(result(LODASH, image=False)).suppressed == ()
    other = {"@id": "pkg:oci/web@sha256:" + "cd" * 32, "subcomponents": [{"@id": "pkg:npm/lodash"}]}
    vex = stored(document(statement(LODASH.id, "not_affected", other, justification="component_not_present")))
    assert ActiveSuppressions.of([], [vex], T0).apply(result(LODASH, image=True)).suppressed == ()


def test_ignore_rules_come_before_vex() -> None:
    vex = stored(document(statement(LODASH.id, "fixed", {"@id": "pkg:npm/lodash"})))
    answered = ActiveSuppressions.of([rule(LODASH.id)], [vex], T0).apply(result(LODASH))
    assert answered.suppressed[0].suppressed_by.kind == "ignore"


@pytest.mark.parametrize("bad", ["", "CVE", "log4shell", "CVE-2021-44228 ", "GHSA-xxxx-xxxx-xxxx; drop", "x" * 101])
def test_advisory_ids_are_checked(bad: str) -> None:
    if bad == "CVE-2021-44228 ":
        assert advisory_id(bad) == "CVE-2021-44228"  # surrounding spaces are trimmed
        return
    with pytest.raises(InvalidInput) as raised:
        advisory_id(bad)
    assert raised.value.field == "advisory"


@pytest.mark.parametrize("good", ["CVE-2021-44228", "GHSA-jfh8-c2jp-5v3q", "ALSA-2023:0946", "openSUSE-SU-2020:0051-1"])
def test_real_advisory_ids_are_accepted(good: str) -> None:
    assert advisory_id(good) == good


@pytest.mark.parametrize(
    "bad", ["*", "lodash 4", "pkg:", "pkg:npm", "pkg:npm/", "pkg:1npm/x", "pkg:npm/lodash?arch=x", "pkg:npm/x#sub"]
)
def test_package_patterns_are_checked(bad: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        PackagePattern.parse(bad)
    assert raised.value.field == "package"
