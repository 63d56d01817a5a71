"""filling.later: background work on the kernel's loop (a fill's slice, frames drawn ahead of the step) runs one
real piece per turn of the loop, so whatever arrived meanwhile (a step's message: any callback) runs between two
pieces, and frames the page needs go before more of a fill."""
import asyncio
import time

from tr_widgets.widgets.filling import later


def _work(ran, name, seconds=0.004):
    def job():
        time.sleep(seconds)
        ran.append(name)
    return job


def test_a_message_arriving_between_two_pieces_of_work_runs_between_them():
    ran = []

    async def main():
        loop = asyncio.get_running_loop()
        later(loop, _work(ran, "a"))
        later(loop, _work(ran, "b"))
        loop.call_soon(ran.append, "message")  # as a step's message, read by the loop after the queue's first turn
        await asyncio.sleep(0.05)
    asyncio.run(main())
    assert ran == ["a", "message", "b"]  # with plain call_soon: a, b, then the message, 8 ms late


def test_frames_go_first_cancelled_jobs_never_run_and_trivial_ones_share_a_turn():
    ran = []

    async def main():
        loop = asyncio.get_running_loop()
        later(loop, _work(ran, "fill"))
        gone = later(loop, _work(ran, "gone"))
        later(loop, ran.append, "stale", first=True)  # nothing to do (a step gone by): the next job runs too
        later(loop, _work(ran, "frame"), first=True)
        gone.cancel()
        loop.call_soon(ran.append, "message")
        await asyncio.sleep(0.05)
    asyncio.run(main())
    assert ran == ["frame", "message", "stale", "fill"]


def test_a_job_that_raises_leaves_the_queue_turning():
    ran = []

    def fails():
        raise RuntimeError("a drawing failed")

    async def main():
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda loop, context: ran.append("reported"))
        later(loop, fails)
        later(loop, _work(ran, "after"))
        await asyncio.sleep(0.05)
        later(loop, _work(ran, "later still"))
        await asyncio.sleep(0.05)
    asyncio.run(main())
    assert ran == ["reported", "after", "later still"]
