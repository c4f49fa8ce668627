"""``teapot apiserver`` — run the embedded Kubernetes-compatible API server alone."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from teapot.cli.common import run as run_loop
from teapot.cli.common import run_until_signal


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "apiserver",
        help="run the embedded Kubernetes-compatible API server",
        description="Serve the Kubernetes API over HTTPS from a SQLite data dir. kubectl and any Kubernetes "
        "client can use it through the admin kubeconfig written to <data-dir>/kubeconfig.",
    )
    p.add_argument(
        "--data-dir", type=Path, required=True, help="state, certificates, tokens and kubeconfig live here"
    )
    p.add_argument("--bind-address", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument(
        "--secure-port", type=int, default=6443, help="HTTPS port (default: 6443; 0 picks a free port)"
    )
    p.add_argument(
        "--token-auth-file",
        type=Path,
        help='static token CSV (token,user,uid,"group1,group2"); without it an admin token is generated',
    )
    p.add_argument("--write-kubeconfig", type=Path, help="also write the admin kubeconfig to this path")
    p.add_argument(
        "--tls-san", action="append", default=[], help="extra subject alternative name for the serving cert"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from teapot.apiserver.auth.tokens import TokenFileError
    from teapot.apiserver.server import EmbeddedAPIServer, ServerSettings

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = ServerSettings(
        data_dir=args.data_dir.resolve(),
        bind_address=args.bind_address,
        secure_port=args.secure_port,
        token_auth_file=args.token_auth_file,
        write_kubeconfig=args.write_kubeconfig,
        extra_sans=tuple(args.tls_san),
    )

    async def main() -> None:
        server = EmbeddedAPIServer(settings)
        try:
            await server.start()
        except OSError as exc:
            print(
                f"teapot apiserver: cannot listen on {args.bind_address}:{args.secure_port}: {exc.strerror}",
                file=sys.stderr,
            )
            raise SystemExit(1) from None
        print(f"teapot apiserver serving at {server.url}", flush=True)
        print(f"  kubeconfig: {server.kubeconfig}", flush=True)
        print(f"  try: kubectl --kubeconfig {server.kubeconfig} get namespaces", flush=True)
        try:
            await run_until_signal()
        finally:
            await server.stop()

    try:
        run_loop(main())
    except TokenFileError as exc:
        print(f"teapot apiserver: {exc}", file=sys.stderr)
        return 1
    return 0
