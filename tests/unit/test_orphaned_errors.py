"""The runner's loop handler hides network errors nobody awaited, and nothing else."""

import asyncio
import gc

import pytest

from diagnose.engine.runner import quiet_orphaned_network_errors


def _orphan(exc: BaseException, handler) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        if handler is not None:
            loop.set_exception_handler(handler)
        future = loop.create_future()
        future.set_exception(exc)
        del future
        gc.collect()

    asyncio.run(main())


@pytest.mark.parametrize("exc", [ConnectionResetError(104, "Connection reset by peer"), TimeoutError(), EOFError()])
def test_a_network_error_nobody_awaited_is_quiet(exc, caplog) -> None:
    with caplog.at_level("ERROR", logger="asyncio"):
        _orphan(exc, quiet_orphaned_network_errors)
    assert "never retrieved" not in caplog.text


def test_the_default_handler_would_have_said_it(caplog) -> None:
    """The control: without the handler the same orphan is reported, so the test above can fail."""
    with caplog.at_level("ERROR", logger="asyncio"):
        _orphan(ConnectionResetError(104, "Connection reset by peer"), None)
    assert "Future exception was never retrieved" in caplog.text


def test_other_errors_still_reported(caplog) -> None:
    with caplog.at_level("ERROR", logger="asyncio"):
        _orphan(ValueError("a bug"), quiet_orphaned_network_errors)
    assert "never retrieved" in caplog.text and "a bug" in caplog.text
