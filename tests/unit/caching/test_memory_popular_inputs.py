"""Popular inputs are ranked by request count and their number stays bounded."""

from __future__ import annotations

from secapi.adapters.memory.popular import InMemoryPopularInputs


async def test_top_ranks_inputs_by_request_count() -> None:
    popular = InMemoryPopularInputs()
    for image, requests in (("alpine", 2), ("nginx", 5), ("redis", 3)):
        for _ in range(requests):
            await popular.touch("docker", f"h-{image}", {"image": image})
    await popular.touch("dependencies", "h-lock", {"filename": "poetry.lock"})

    assert await popular.top("docker", 10) == [{"image": "nginx"}, {"image": "redis"}, {"image": "alpine"}]
    assert await popular.top("docker", 1) == [{"image": "nginx"}]
    assert await popular.top("docker", 0) == []
    assert await popular.top("dependencies", 10) == [{"filename": "poetry.lock"}]
    assert await popular.top("unknown", 10) == []


async def test_stored_input_is_a_copy_of_the_first_request() -> None:
    popular = InMemoryPopularInputs()
    data = {"image": "nginx"}
    await popular.touch("docker", "h", data)
    data["image"] = "changed"
    await popular.touch("docker", "h", {"image": "second"})
    assert await popular.top("docker", 1) == [{"image": "nginx"}]


async def test_a_trim_keeps_the_most_requested_inputs() -> None:
    popular = InMemoryPopularInputs(max_tracked=3, trim_every=10)
    for input_hash, requests in (("a", 4), ("b", 3), ("c", 1), ("d", 1), ("e", 1)):  # 10 touches: one trim
        for _ in range(requests):
            await popular.touch("docker", input_hash, {"id": input_hash})

    assert popular.tracked("docker") == 3
    # Equal counts rank by hash, highest first, as a Redis sorted set ranks them.
    assert await popular.top("docker", 10) == [{"id": "a"}, {"id": "b"}, {"id": "e"}]


async def test_tracking_stays_bounded_however_many_inputs_arrive() -> None:
    popular = InMemoryPopularInputs(max_tracked=3, trim_every=10)
    for n in range(200):
        await popular.touch("docker", f"h{n:03d}", {"n": n})
        assert popular.tracked("docker") <= 3 + 10
    assert popular.tracked("docker") == 3
