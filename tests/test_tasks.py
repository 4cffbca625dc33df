"""Background tasks: work canceled before it started is closed, never left to warn."""

from __future__ import annotations

import inspect

from bot.tasks import BackgroundTasks


async def test_work_canceled_before_it_started_is_closed() -> None:
    tasks = BackgroundTasks()
    ran: list[int] = []

    async def work() -> None:
        ran.append(1)

    coro = work()
    assert tasks.spawn("job:1", coro)
    await tasks.close()  # a shutdown right after the spawn: the task never took a step
    assert ran == []
    # Closed: no "coroutine was never awaited" when it is collected.
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED


async def test_work_that_ran_is_unaffected() -> None:
    tasks = BackgroundTasks()
    ran: list[int] = []

    async def work() -> None:
        ran.append(1)

    assert tasks.spawn("job:2", work())
    await tasks.wait_idle()
    assert ran == [1]
