"""Helpers shared by long-running CLI commands."""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from teapot.hosts.controller import HostControllerOptions

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on uvloop: its TLS and socket paths are several times faster than asyncio's."""
    import uvloop

    return uvloop.run(main)


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


def add_host_controller_arguments(p: argparse.ArgumentParser) -> None:
    """The host controller's tunables that operators size to their Ironic (``teapot up`` and
    ``teapot controllers`` share them)."""
    from teapot.hosts.controller import HostControllerOptions

    d = HostControllerOptions()
    g = p.add_argument_group("host controller")
    flags = (
        (
            "--max-concurrent-provisioning",
            non_negative_int,
            f"network-boot hosts (de)provisioning at once; 0 = no cap (default {d.max_concurrent_provisioning}, Metal3's)",
        ),
        (
            "--max-concurrent-cleaning",
            non_negative_int,
            f"hosts cleaning at once before more may start preparing; 0 = no cap (default {d.max_concurrent_cleaning})",
        ),
        ("--host-workers", positive_int, f"concurrent host reconciles (default {d.workers})"),
    )
    defaults = (d.max_concurrent_provisioning, d.max_concurrent_cleaning, d.workers)
    for (flag, kind, text), default in zip(flags, defaults, strict=True):
        g.add_argument(flag, type=kind, default=default, metavar="N", help=text)


def host_controller_options(args: argparse.Namespace) -> HostControllerOptions:
    from teapot.hosts.controller import HostControllerOptions

    return HostControllerOptions(
        max_concurrent_provisioning=args.max_concurrent_provisioning,
        max_concurrent_cleaning=args.max_concurrent_cleaning,
        workers=args.host_workers,
    )


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, not {value}")
        return value

    parse.__name__ = "integer"  # argparse: "invalid integer value: 'x'"
    return parse


non_negative_int = _int_at_least(0)
positive_int = _int_at_least(1)
