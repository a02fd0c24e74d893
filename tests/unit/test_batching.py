"""Group commit: concurrent submissions share a run, each gets its own answer, a lone one
runs at once, and a failed run fails only its own group."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from shared.batching import GroupCommit


class Recorder:
    def __init__(self, fail_on: int | None = None) -> None:
        self.groups: list[list[int]] = []
        self.release = asyncio.Event()
        self.fail_on = fail_on

    async def run(self, items: Sequence[int]) -> list[int]:
        self.groups.append(list(items))
        await self.release.wait()
        if self.fail_on in items:
            raise RuntimeError("the transaction failed")
        return [item * 10 for item in items]


async def settle() -> None:
    """Lets every ready task run until it waits."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_lone_submission_runs_at_once_as_a_group_of_one() -> None:
    recorder = Recorder()
    recorder.release.set()
    commit = GroupCommit("test", recorder.run)

    assert await commit.submit(7) == 70
    assert recorder.groups == [[7]]


async def test_submissions_arriving_during_a_run_go_together_in_the_next() -> None:
    recorder = Recorder()
    commit = GroupCommit("test", recorder.run, concurrency=1)
    first = asyncio.create_task(commit.submit(1))
    await settle()
    rest = [asyncio.create_task(commit.submit(i)) for i in range(2, 7)]
    await settle()
    recorder.release.set()

    assert await asyncio.gather(first, *rest) == [10, 20, 30, 40, 50, 60]
    assert recorder.groups == [[1], [2, 3, 4, 5, 6]]


async def test_groups_are_bounded_and_runs_overlap_up_to_the_concurrency() -> None:
    recorder = Recorder()
    commit = GroupCommit("test", recorder.run, max_group=2, concurrency=2)
    tasks = [asyncio.create_task(commit.submit(i)) for i in range(5)]
    await settle()
    assert recorder.groups == [[0, 1], [2, 3]]  # two runs in flight, the fifth waits
    recorder.release.set()

    assert await asyncio.gather(*tasks) == [0, 10, 20, 30, 40]
    assert recorder.groups == [[0, 1], [2, 3], [4]]


async def test_a_failed_run_fails_its_own_group_only() -> None:
    recorder = Recorder(fail_on=2)
    commit = GroupCommit("test", recorder.run, max_group=2, concurrency=1)
    tasks = [asyncio.create_task(commit.submit(i)) for i in range(4)]
    await settle()
    recorder.release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)

    assert results[:2] == [0, 10]
    assert all(isinstance(r, RuntimeError) for r in results[2:])
    assert await commit.submit(5) == 50  # and the next submission runs normally


async def test_cancelling_the_runner_cancels_its_waiters() -> None:
    recorder = Recorder()
    commit = GroupCommit("test", recorder.run)
    waiter = asyncio.create_task(commit.submit(1))
    await settle()
    (runner,) = commit._tasks
    runner.cancel()

    with pytest.raises(asyncio.CancelledError):
        await waiter
