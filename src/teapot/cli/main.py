"""``teapot`` — the single entry point for operators and developers.

Each sub-command lives in its own module under ``teapot.cli`` exposing ``add_parser(subparsers)``;
this module only wires them together so that a broken optional command cannot break the others'
``--help``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# module name -> sub-command(s) it adds; imported lazily so `teapot --help` stays fast.
_COMMAND_MODULES: tuple[str, ...] = (
    "teapot.cli.apiserver_cmd",
    "teapot.cli.up_cmd",
    "teapot.cli.controllers_cmd",
    "teapot.cli.crds_cmd",
    "teapot.cli.fleet_cmd",
    "teapot.cli.allocation_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="teapot",
        description="Teapot: a Kubernetes-native bare-metal cloud. "
        "Run `teapot up` for a control plane with an emulated datacenter.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # the command is not built yet
                continue
            raise
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from teapot import __version__

        print(f"teapot {__version__}")
        return 0
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        result = func(args)
    except BrokenPipeError:  # e.g. `teapot crds | head`: the reader went away; not an error
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
