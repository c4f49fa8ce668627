"""``teapot explain KIND/NAME`` and ``teapot whatif -f change.yaml``.

Why these two: the questions people ask a quota system are "why is my claim pending / who took my
host?" and "if I change this quota or add this reservation, will it be admitted?". ``explain``
renders what the allocation controller already wrote (status + Events) in words; ``whatif`` runs
the controller's own admission code as a dry run against the live world and changes nothing
(exit code 0 when everything would be admitted, 1 otherwise).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    explain = sub.add_parser(
        "explain",
        help="why is a HostClaim / Reservation / Tenant pending, refused or pre-empted",
        description="Print, in words, why a HostClaim, Reservation or Tenant is pending, refused or "
        "pre-empted, from its status and recent Events. Example: teapot explain hostclaim/train -n ml",
    )
    explain.add_argument(
        "target", metavar="KIND/NAME", help="hostclaim/NAME, reservation/NAME or tenant/NAME"
    )
    explain.add_argument("-n", "--namespace", default="default", help="namespace (HostClaims, Reservations)")
    explain.add_argument(
        "--kubeconfig", default=None, help="kubeconfig (default: $KUBECONFIG, ~/.kube/config)"
    )
    explain.set_defaults(func=run_explain)

    whatif = sub.add_parser(
        "whatif",
        help="dry-run admission of Tenant / Reservation / HostClass changes",
        description="Read Tenants, Reservations and HostClasses from a file, apply them to the current "
        "world (read through the API) in memory, and run the admission check as the allocation "
        "controller would. Prints admitted/refused with the explanation; exit code 0 if everything "
        "would be admitted, 1 otherwise. Nothing is written.",
    )
    whatif.add_argument("-f", "--filename", required=True, help="YAML file (multi-document; - for stdin)")
    whatif.add_argument("-n", "--namespace", default="default", help="namespace of Reservations without one")
    whatif.add_argument("--kubeconfig", default=None)
    whatif.add_argument("--hosts-namespace", default="teapot-hosts", help="namespace of the BareMetalHosts")
    whatif.add_argument(
        "--lead-time",
        type=float,
        default=900.0,
        help="seconds a guaranteed window is booked early (default 900)",
    )
    whatif.set_defaults(func=run_whatif)


def run_explain(args: argparse.Namespace) -> int:
    from teapot.cli.common import run as run_loop
    from teapot.runtime import ApiError

    try:
        text = run_loop(_explain(args))
    except (ValueError, LookupError, OSError, ApiError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(text)
    return 0


async def _explain(args: argparse.Namespace) -> str:
    from teapot.runtime import ApiError, ClientSettings, connect
    from teapot.tenancy import keys
    from teapot.tenancy.words import explain_text, kind_of

    kind_text, sep, name = str(args.target).partition("/")
    if not sep or not name:
        raise ValueError("use KIND/NAME, e.g. hostclaim/train")
    kind = kind_of(kind_text)
    ref = {"HostClaim": keys.HOSTCLAIMS, "Reservation": keys.RESERVATIONS, "Tenant": keys.TENANTS}[kind]
    namespace = args.namespace if ref.namespaced else None
    async with await connect(ClientSettings(kubeconfig=args.kubeconfig)) as client:
        try:
            obj = await client.get(ref, name, namespace)
        except ApiError as exc:
            if exc.not_found:
                where = f" in namespace {namespace!r}" if namespace else ""
                raise LookupError(f"{kind} {name!r} not found{where}") from exc
            raise
        events: list[dict[str, Any]] = []
        try:
            listed = await client.list(keys.EVENTS, namespace or "default")
            events = [
                e
                for e in listed.get("items") or []
                if (e.get("involvedObject") or {}).get("kind") == kind
                and (e.get("involvedObject") or {}).get("name") == name
            ]
        except ApiError as exc:  # a tenant user may not read Events: explain from status alone
            if exc.status not in (401, 403):
                raise
    return explain_text(kind, obj, events, datetime.now(UTC))


def run_whatif(args: argparse.Namespace) -> int:
    from teapot.cli.common import run as run_loop
    from teapot.runtime import ApiError

    try:
        source = sys.stdin.read() if args.filename == "-" else open(args.filename).read()  # noqa: SIM115
        changes = [doc for doc in yaml.safe_load_all(source) if doc]
        ok, text = run_loop(_whatif(args, changes))
    except (ValueError, OSError, yaml.YAMLError, ApiError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(text)
    return 0 if ok else 1


async def _whatif(args: argparse.Namespace, changes: list[dict[str, Any]]) -> tuple[bool, str]:
    from teapot.runtime import ClientSettings, connect
    from teapot.tenancy import keys
    from teapot.tenancy.explain import what_if, what_if_text

    async with await connect(ClientSettings(kubeconfig=args.kubeconfig)) as client:
        live = {
            "Tenant": (await client.list(keys.TENANTS)).get("items") or [],
            "HostClass": (await client.list(keys.HOSTCLASSES)).get("items") or [],
            "Reservation": (await client.list(keys.RESERVATIONS)).get("items") or [],
        }
        hosts = (await client.list(keys.BAREMETALHOSTS, args.hosts_namespace)).get("items") or []
    result = what_if(
        live, hosts, changes, datetime.now(UTC), timedelta(seconds=args.lead_time), args.namespace
    )
    return result.ok, what_if_text(result)
