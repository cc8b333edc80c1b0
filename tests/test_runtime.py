"""The runtime: exit codes, errors passing through, signals turned into cancellation."""

import os
import signal

import pytest
import trio

from gptme_trio.core import runtime
from gptme_trio.core.errors import UsageError


def test_exit_code_passes_through():
    async def main(_interrupts) -> int:
        await trio.sleep(0)
        return 7

    assert runtime.run(main) == 7


def test_errors_from_main_come_out_unchanged():
    async def main(_interrupts) -> int:
        raise UsageError("bad")

    with pytest.raises(UsageError, match="bad"):  # not wrapped, not a RuntimeError about signals
        runtime.run(main)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_cancels_main_and_cleanup_runs(signum, code):
    cleaned = []

    async def main(_interrupts) -> int:
        try:
            os.kill(os.getpid(), signum)
            await trio.sleep_forever()
        finally:
            cleaned.append(True)
        return 0

    assert runtime.run(main) == code
    assert cleaned == [True]


def test_sigint_cancels_the_redirected_scope_only():
    async def main(interrupts) -> int:
        with trio.CancelScope() as turn, interrupts.redirect(turn):
            os.kill(os.getpid(), signal.SIGINT)
            await trio.sleep_forever()
        assert turn.cancelled_caught
        return 5  # the program goes on after the turn

    assert runtime.run(main) == 5


async def test_alongside_raises_what_the_body_raised_as_it_came():
    ran = trio.Event()

    async def task() -> None:
        ran.set()
        await trio.sleep_forever()

    with pytest.raises(UsageError):  # not an ExceptionGroup around it
        async with runtime.alongside(task):
            await ran.wait()
            raise UsageError("bad")
    with trio.move_on_after(0.01) as scope:
        async with runtime.alongside(task):
            await trio.sleep_forever()
    assert scope.cancelled_caught
