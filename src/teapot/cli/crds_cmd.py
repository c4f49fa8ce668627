"""``teapot crds`` — print Teapot's CustomResourceDefinitions (to ``kubectl apply -f -`` anywhere)."""

from __future__ import annotations

import argparse
import sys

import yaml


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "crds",
        help="print Teapot's CRDs as YAML",
        description="Print the CustomResourceDefinitions Teapot serves (Metal3's BareMetalHost and HardwareData, "
        "and teapot.dev's HostClass, Tenant, Reservation, HostClaim) as a multi-document YAML stream. "
        "Example: teapot crds | kubectl apply --server-side -f -",
    )
    p.add_argument(
        "-o", "--output", choices=("yaml", "json"), default="yaml", help="output format (default: yaml)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from teapot.api import all_crds

    crds = all_crds()
    if args.output == "json":
        import json

        json.dump({"apiVersion": "v1", "kind": "List", "items": crds}, sys.stdout, indent=2)
        print()
    else:
        yaml.safe_dump_all(crds, sys.stdout, sort_keys=False)
    return 0
