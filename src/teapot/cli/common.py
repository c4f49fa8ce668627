"""Helpers shared by long-running CLI commands."""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Coroutine
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
    g.add_argument(
        "--max-concurrent-provisioning",
        type=non_negative_int,
        default=d.max_concurrent_provisioning,
        metavar="N",
        help=f"network-boot hosts (de)provisioning at once; 0 = no cap (default {d.max_concurrent_provisioning}, Metal3's)",
    )
    g.add_argument(
        "--max-concurrent-cleaning",
        type=non_negative_int,
        default=d.max_concurrent_cleaning,
        metavar="N",
        help=f"hosts cleaning at once before more may start preparing; 0 = no cap (default {d.max_concurrent_cleaning})",
    )
    g.add_argument(
        "--host-workers",
        type=positive_int,
        default=d.workers,
        metavar="N",
        help=f"concurrent host reconciles (default {d.workers})",
    )


def host_controller_options(args: argparse.Namespace) -> HostControllerOptions:
    from teapot.hosts.controller import HostControllerOptions

    return HostControllerOptions(
        max_concurrent_provisioning=args.max_concurrent_provisioning,
        max_concurrent_cleaning=args.max_concurrent_cleaning,
        workers=args.host_workers,
    )


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value
