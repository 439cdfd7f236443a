"""A run of table reads written as one generator, carried out one frame per step.

The history backbone (`history.py`) gives a source one frame per gap of the read budget
(p.51), so a source that needs several reads in a row (a header, the entries, the header again,
p.108) would otherwise be a hand-written state machine. Here it is plain code: the generator
yields each `PartialRead` and is sent the bytes; what it returns is the result. A read that
fails is thrown into the generator at its `yield`, so it can catch a refusal where one is
expected (an optional table) and let the rest (a wrong key, a timeout) go on up to the poller.

Pure: no clock, no I/O; `ScriptRun.step` awaits the reader it is given.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Generic, TypeVar

from mepd.protocol import PartialRead
from mepd.protocol.errors import AuthenticationError, ResponseError, SequenceError
from mepd.protocol.tls.errors import TlsRefusedError

T = TypeVar("T")
Script = Generator[PartialRead, bytes, T]
Reader = Callable[[PartialRead], Awaitable[bytes]]

# Refusals that are the link's business, not the table's (`failures.FAILURES`).
_LINK_REFUSALS = (AuthenticationError, SequenceError, TlsRefusedError)


def refused(error: BaseException) -> bool:
    """The meter refused this table (it has none, or not at this offset): a table's answer,
    unlike a wrong key, a sequence error or a TLS refusal."""
    return isinstance(error, ResponseError) and not isinstance(error, _LINK_REFUSALS)


class ScriptRun(Generic[T]):
    """One run of a script. `done` once it returned; `result` is then what it returned."""

    def __init__(self, script: Script[T]) -> None:
        self._script = script
        self._request: PartialRead | None = None
        self.done = False
        self.result: T | None = None
        try:
            self._request = next(script)
        except StopIteration as stop:
            self._finish(stop.value)

    def _finish(self, value: T) -> None:
        self.done = True
        self.result = value

    async def step(self, read: Reader) -> bool:
        """One read, then the script goes on to its next read or its end; True when done.
        An exception the script does not catch comes out here, and the run is over."""
        if self.done or self._request is None:
            return True
        try:
            data = await read(self._request)
        except Exception as error:
            try:
                self._request = self._script.throw(error)
            except StopIteration as stop:
                self._finish(stop.value)
            except BaseException:
                self.done = True
                raise
            return self.done
        try:
            self._request = self._script.send(data)
        except StopIteration as stop:
            self._finish(stop.value)
        except BaseException:
            self.done = True
            raise
        return self.done


async def run_script(script: Script[T], read: Reader) -> T:
    """The whole script at once, where no budget gap paces it (`mepd probe`)."""
    run = ScriptRun(script)
    while not await run.step(read):
        pass
    return run.result  # type: ignore[return-value]  # set by `_finish` when done
