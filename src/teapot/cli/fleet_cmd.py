"""``teapot fleet`` — run an emulated datacenter, or print the manifests that enrol it.

``teapot fleet run -f examples/datacenter.yaml`` serves one Redfish BMC per host (sushy-tools) and
prints a table of hosts; ``teapot fleet manifests -f … | kubectl apply -f -`` enrols them as
BareMetalHosts; ``--hosts N`` instead of ``-f`` generates a fleet of N hosts (benchmarks).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any

from teapot.fleet.fleet import Fleet, FleetError, FleetHost, fleet_host
from teapot.fleet.generate import generate_datacenter
from teapot.fleet.model import Datacenter
from teapot.fleet.parse import FleetSpecError, load_datacenter


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "fleet",
        help="emulated datacenter (Redfish BMCs from sushy-tools)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="fleet_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: parser.print_help() or 2)

    run = commands.add_parser("run", help="serve the fleet's BMCs in the foreground")
    _source_args(run)
    _address_args(run, default_port=8000)
    run.add_argument("--state-dir", help="keep emulator state here (persists across restarts)")
    run.add_argument("--power-delay", type=float, default=1.0, help="seconds each power change takes")
    run.add_argument("--notify-url", help="PUT each system's state here on power/boot/media changes")
    run.add_argument("--fetch-media", action="store_true", help="download virtual media like a real BMC")
    run.add_argument("--show-passwords", action="store_true", help="print BMC passwords in the table")
    run.set_defaults(func=_run)

    manifests = commands.add_parser("manifests", help="print BareMetalHost + Secret YAML for the fleet")
    _source_args(manifests)
    _address_args(manifests, default_port=8000)
    manifests.add_argument("--namespace", default="default")
    manifests.set_defaults(func=_manifests)

    show = commands.add_parser("show", help="print the table of hosts without running anything")
    _source_args(show)
    _address_args(show, default_port=8000)
    show.add_argument("--show-passwords", action="store_true")
    show.set_defaults(func=_show)


def _source_args(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("-f", "--file", help="datacenter description (YAML), e.g. examples/datacenter.yaml")
    source.add_argument("--hosts", type=int, help="generate a datacenter of N hosts")


def _address_args(parser: argparse.ArgumentParser, default_port: int) -> None:
    parser.add_argument("--listen", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=default_port, help=f"port (default {default_port})")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with a self-signed certificate")
    parser.add_argument(
        "--scheme",
        default="redfish",
        help="BMC address scheme: redfish, redfish-virtualmedia, … (+http/+https is added)",
    )


def _datacenter(args: argparse.Namespace) -> Datacenter:
    if args.file:
        return load_datacenter(args.file)
    return generate_datacenter(args.hosts)


def _base_url(args: argparse.Namespace, port: int) -> str:
    host = f"[{args.listen}]" if ":" in args.listen else args.listen
    return f"{'https' if args.tls else 'http'}://{host}:{port}"


def format_table(hosts: Sequence[FleetHost], show_passwords: bool = False) -> str:
    """A fixed-width table of hosts, one line each."""
    header = (
        "NAME",
        "RACK",
        "PDU",
        "MODEL",
        "CPUS",
        "MEM GiB",
        "DISKS",
        "GPUS",
        "BOOT MAC",
        "USER",
        "BMC ADDRESS",
    )
    rows = [header]
    for fh in hosts:
        model = fh.host.model
        disks = ",".join(f"{g.count}x{g.size_gb}G-{g.type.value}" for g in model.disks) or "-"
        user = (
            f"{fh.credentials.username}:{fh.credentials.password}"
            if show_passwords
            else fh.credentials.username
        )
        rows.append(
            (
                fh.name,
                fh.host.location.rack,
                fh.host.pdu or "-",
                model.name,
                str(model.cpu.sockets * model.cpu.threads),
                str(model.memory_gib),
                disks,
                str(model.gpu_count),
                fh.boot_mac,
                user,
                fh.bmc_address,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def _run(args: argparse.Namespace) -> int:
    try:
        datacenter = _datacenter(args)
    except (FleetSpecError, OSError, ValueError) as exc:
        print(f"teapot fleet: {exc}", file=sys.stderr)
        return 2
    fleet = Fleet(
        datacenter,
        state_dir=args.state_dir,
        listen_host=args.listen,
        port=args.port,
        tls=args.tls,
        power_delay_s=args.power_delay,
        notify_url=args.notify_url,
        fetch_media=args.fetch_media,
        scheme=args.scheme,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        fleet.start()
    except FleetError as exc:
        print(f"teapot fleet: {exc}", file=sys.stderr)
        return 1
    try:
        print(format_table(fleet.hosts, args.show_passwords))
        print(
            f"\n{len(datacenter.hosts)} hosts from datacenter {datacenter.name!r} served at {fleet.base_url} "
            f"(started in {fleet.startup_s:.2f} s, pid {fleet.pid}). Ctrl-C stops.",
            flush=True,
        )
        while not stop.wait(0.5):
            if not fleet.running:
                print(
                    "teapot fleet: the emulator exited; see its log in the state directory", file=sys.stderr
                )
                return 1
    finally:
        fleet.stop()
    return 0


def _manifests(args: argparse.Namespace) -> int:
    from teapot.fleet.manifests import render

    try:
        datacenter = _datacenter(args)
    except (FleetSpecError, OSError, ValueError) as exc:
        print(f"teapot fleet: {exc}", file=sys.stderr)
        return 2
    base_url = _base_url(args, args.port)
    hosts = [fleet_host(datacenter.name, host, base_url, args.scheme) for host in datacenter.hosts]
    sys.stdout.write(render(hosts, args.namespace))
    return 0


def _show(args: argparse.Namespace) -> int:
    try:
        datacenter = _datacenter(args)
    except (FleetSpecError, OSError, ValueError) as exc:
        print(f"teapot fleet: {exc}", file=sys.stderr)
        return 2
    base_url = _base_url(args, args.port)
    hosts = [fleet_host(datacenter.name, host, base_url, args.scheme) for host in datacenter.hosts]
    print(format_table(hosts, args.show_passwords))
    return 0
