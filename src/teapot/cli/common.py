"""Helpers shared by long-running CLI commands."""

from __future__ import annotations

import asyncio
import signal


async def run_until_signal() -> None:
    """Block until SIGINT or SIGTERM; the caller then shuts down cleanly."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
