"""``teapot controllers`` — run Teapot's controllers against any Kubernetes API server.

Why it exists: in production Teapot runs on a real management cluster, not the embedded server. This
command is what the Deployment in ``deploy/`` runs: it connects with a kubeconfig (or in-cluster
config), elects a leader on a coordination.k8s.io Lease so several replicas can run safely, and runs
the host controller (with Ironic) and the tenancy controllers.
"""

from __future__ import annotations

import argparse
import logging

from teapot.cli.common import add_host_controller_arguments, host_controller_options


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "controllers",
        help="run the controllers against an existing Kubernetes API server",
        description="Run Teapot's controllers against any Kubernetes API server (a real cluster, or a `teapot "
        "apiserver`). Uses --kubeconfig, else $KUBECONFIG / ~/.kube/config, else in-cluster config. Replicas elect "
        "a leader on a Lease; only the leader reconciles.",
    )
    p.add_argument(
        "--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config or in-cluster)"
    )
    p.add_argument(
        "--ironic-url", help="Ironic API (noauth) the host controller drives; without it no host controller"
    )
    p.add_argument(
        "--hosts-namespace", default="teapot-hosts", help="namespace of BareMetalHosts (default teapot-hosts)"
    )
    p.add_argument(
        "--leader-election-namespace", default="teapot-system", help="namespace of the leader Lease"
    )
    p.add_argument("--no-leader-election", action="store_true", help="reconcile without electing a leader")
    p.add_argument(
        "--metrics-bind-address", default="0.0.0.0:8080", help="/metrics, /healthz, /readyz (default :8080)"
    )
    add_host_controller_arguments(p)
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    p.set_defaults(func=run)


async def _run(args: argparse.Namespace) -> int:
    from teapot.runtime import ClientSettings, LeaderElectionConfig, Manager, ManagerOptions, connect

    client = await connect(ClientSettings(kubeconfig=args.kubeconfig, user_agent="teapot-controllers"))
    election = (
        None
        if args.no_leader_election
        else LeaderElectionConfig(
            lease_name="teapot-controllers", lease_namespace=args.leader_election_namespace
        )
    )
    manager = Manager(
        client,
        ManagerOptions(
            component="teapot-controllers",
            metrics_bind_address=args.metrics_bind_address,
            leader_election=election,
            handle_signals=True,
        ),
    )
    if args.ironic_url:
        from teapot.hosts.controller import setup_host_controller
        from teapot.hosts.ironic import IronicProvisioner, IronicProvisionerSettings

        setup_host_controller(
            manager,
            IronicProvisioner(IronicProvisionerSettings(url=args.ironic_url)),
            options=host_controller_options(args),
        )
    from teapot.tenancy import setup_tenancy_controllers

    setup_tenancy_controllers(manager, hosts_namespace=args.hosts_namespace)
    try:
        await manager.run()
    finally:
        await client.close()
    return 0


def run(args: argparse.Namespace) -> int:
    from teapot.cli.common import run as run_loop

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return run_loop(_run(args))
