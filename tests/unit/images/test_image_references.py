"""Image references follow the Docker reference grammar and normalise to one canonical form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secapi.domain.errors import InvalidInput
from secapi.domain.images import InvalidImageReference, parse_image_reference

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("nginx", "docker.io/library/nginx:latest"),
        ("library/nginx", "docker.io/library/nginx:latest"),
        ("docker.io/library/nginx:latest", "docker.io/library/nginx:latest"),
        ("index.docker.io/library/nginx", "docker.io/library/nginx:latest"),
        ("registry-1.docker.io/nginx", "docker.io/library/nginx:latest"),
        ("docker.io/nginx", "docker.io/library/nginx:latest"),
        ("Docker.IO/nginx", "docker.io/library/nginx:latest"),
        ("nginx:1.24", "docker.io/library/nginx:1.24"),
        ("bitnami/redis:7.2", "docker.io/bitnami/redis:7.2"),
        (f"ghcr.io/o/r@{DIGEST}", f"ghcr.io/o/r@{DIGEST}"),
        (f"reg:5000/a/b:tag@{DIGEST}", f"reg:5000/a/b:tag@{DIGEST}"),
        ("localhost/app", "localhost/app:latest"),
        ("localhost:5000/app:dev", "localhost:5000/app:dev"),
        ("127.0.0.1:5000/team/app", "127.0.0.1:5000/team/app:latest"),
        ("[::1]:5000/app", "[::1]:5000/app:latest"),
        ("quay.io/a/b/c/d", "quay.io/a/b/c/d:latest"),
        ("a__b/c-d.e_f", "docker.io/a__b/c-d.e_f:latest"),
        ("x/y--z", "docker.io/x/y--z:latest"),
        ("nginx:" + "T" * 128, "docker.io/library/nginx:" + "T" * 128),
        ("nginx:_v1.0-rc.1", "docker.io/library/nginx:_v1.0-rc.1"),
    ],
)
def test_references_normalise_as_docker_pull_does(text: str, canonical: str) -> None:
    assert parse_image_reference(text).canonical() == canonical


def test_spellings_of_one_image_are_one_reference() -> None:
    spellings = ["nginx", "library/nginx", "docker.io/library/nginx:latest", "index.docker.io/library/nginx"]
    assert len({parse_image_reference(s) for s in spellings}) == 1


def test_parts_and_properties() -> None:
    ref = parse_image_reference(f"reg.example:5000/team/app:1.0@{DIGEST}")
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == ("reg.example:5000", "team/app", "1.0", DIGEST)
    assert ref.name() == "reg.example:5000/team/app"
    assert not ref.is_docker_hub
    assert parse_image_reference("nginx").is_docker_hub
    assert parse_image_reference(f"nginx@{DIGEST}").tag is None  # a digest alone does not add "latest"
    assert ref.with_digest("sha256:" + "f" * 64).digest == "sha256:" + "f" * 64


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "non-empty"),
        (" nginx", "surrounding whitespace"),
        ("Nginx", "repository name must be lowercase"),
        ("docker.io/Library/nginx", "repository name must be lowercase"),
        ("nginx:", "tag must match"),
        ("nginx:-rc", "tag must match"),
        ("nginx:" + "a" * 129, "tag must match"),
        ("nginx:a b", "tag must match"),
        ("nginx@", "digest must be sha256:<64 lowercase hex>"),
        ("nginx@sha256:abc", "digest must be sha256:<64 lowercase hex>"),
        ("nginx@sha256:" + "A" * 64, "digest must be sha256:<64 lowercase hex>"),
        ("nginx@md5:" + "a" * 32, "digest must be sha256:<64 lowercase hex>"),
        ("reg:99999/app", "port '99999' must be a number from 1 to 65535"),
        ("reg:http/app", "port 'http' must be a number"),
        ("-bad.example/app", "not a valid host name"),
        ("bad-.example/app", "not a valid host name"),
        ("reg..example/app", "not a valid host name"),
        ("[::1/app", "not a valid bracketed IPv6"),
        ("a//b", "repository component ''"),
        ("team/app_", "repository component 'app_'"),
        ("team/-app", "repository component '-app'"),
        ("team/a___b", "repository component 'a___b'"),
        ("reg.example/", "repository name is missing"),
        (":tag", "repository name is missing"),
        ("a" * 64, "64-character hex string"),
        ("reg.example/" + "a/" * 130 + "b", "at most 255 characters"),
    ],
)
def test_invalid_references_say_why(text: str, reason: str) -> None:
    with pytest.raises(InvalidImageReference) as caught:
        parse_image_reference(text)
    assert reason in str(caught.value)
    assert isinstance(caught.value, InvalidInput)
    assert caught.value.field == "image"


_component = st.from_regex(r"[a-z0-9]{1,8}([._-][a-z0-9]{1,8})?", fullmatch=True)
_references = st.builds(
    lambda registry, path, tag: f"{registry}{'/'.join(path)}{tag}",
    st.sampled_from(["", "docker.io/", "index.docker.io/", "ghcr.io/", "localhost:5000/", "10.1.2.3:443/"]),
    st.lists(_component, min_size=1, max_size=3),
    st.sampled_from(["", ":latest", ":1.2.3", f"@{DIGEST}", f":v1@{DIGEST}"]),
)


@given(_references)
def test_canonical_form_parses_back_to_itself(text: str) -> None:
    try:
        ref = parse_image_reference(text)
    except InvalidImageReference:
        return  # e.g. a generated 64-hex repository name
    assert parse_image_reference(ref.canonical()) == ref
