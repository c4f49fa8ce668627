"""``teapot up`` — the whole control plane in one process tree, optionally with an emulated datacenter.

Why it exists: a new user should see Teapot working in one command — the embedded API server, Teapot's
CRDs, Ironic, the controllers, and (with ``--fleet``) an emulated datacenter whose hosts go from
registering to available in the first minute — and stop it all with Ctrl-C. Everything talks through
the Kubernetes API exactly as it would on a real cluster; ``--fleet`` is the only place the product's
command line reaches into ``teapot.fleet`` (the emulation layer), and only when asked to.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from teapot.cli.common import add_host_controller_arguments, host_controller_options

log = logging.getLogger("teapot.up")
HOSTS_NAMESPACE = "teapot-hosts"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "up",
        help="run the control plane (API server, Ironic, controllers), optionally with an emulated datacenter",
        description="Run Teapot's control plane in one process tree: the embedded Kubernetes API server, Teapot's "
        "CRDs, Ironic (or an existing one via --ironic-url) and the controllers. With --fleet, also start an "
        "emulated datacenter of Redfish BMCs and enrol its hosts as BareMetalHosts. Ctrl-C stops everything.",
    )
    p.add_argument(
        "--data-dir", type=Path, default=Path(".teapot"), help="state directory (default: ./.teapot)"
    )
    p.add_argument(
        "--secure-port", type=int, default=6443, help="API server HTTPS port (default 6443; 0 = any)"
    )
    p.add_argument("--bind-address", default="127.0.0.1", help="API server address (default 127.0.0.1)")
    p.add_argument(
        "--fleet",
        metavar="FILE|N",
        help="start an emulated datacenter from a YAML description (e.g. examples/datacenter.yaml) or of N "
        "generated hosts, and enrol its hosts",
    )
    p.add_argument("--ironic-url", help="use this existing Ironic API (noauth) instead of starting one")
    p.add_argument("--no-ironic", action="store_true", help="start no Ironic and no host controller")
    p.add_argument(
        "--metrics-port", type=int, default=0, help="controllers' /metrics port (default: any free port)"
    )
    add_host_controller_arguments(p)
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    p.set_defaults(func=run)


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


async def _apply(client: Any, ref: Any, obj: dict[str, Any], namespace: str | None = None) -> None:
    await client.patch(
        ref,
        obj["metadata"]["name"],
        obj,
        namespace,
        patch_type="apply",
        field_manager="teapot-up",
        force=True,
    )


async def _apply_all(
    client: Any, ref: Any, docs: list[dict[str, Any]], namespace: str, in_flight: int = 16
) -> None:
    gate = asyncio.Semaphore(in_flight)

    async def one(doc: dict[str, Any]) -> None:
        async with gate:
            await _apply(client, ref, doc, namespace)

    await asyncio.gather(*(one(doc) for doc in docs))


def host_progress(hosts: list[dict[str, Any]]) -> str:
    """One line: hosts per provisioning state, how many wait for a slot, how many have errors."""
    statuses = [h.get("status") or {} for h in hosts]
    states = Counter((s.get("provisioning") or {}).get("state") or "registering" for s in statuses)
    line = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    delayed = sum(1 for s in statuses if s.get("operationalStatus") == "delayed")
    if delayed:
        line += f"; {delayed} waiting for a cleaning or provisioning slot"
    errors = sum(1 for s in statuses if s.get("errorType"))
    if errors:
        line += f" ({errors} with errors: kubectl get bmh -n {HOSTS_NAMESPACE})"
    return line


async def _summarise_hosts(hosts_informer: Any, stop: asyncio.Event) -> None:
    """Print how many hosts are in each provisioning state whenever that changes.

    Reads the controllers' shared informer cache: listing 1,000 hosts from the API every 2 s cost
    ~15 % of the process's CPU."""
    last = ""
    started = time.monotonic()
    while not stop.is_set():
        line = host_progress(hosts_informer.store.list(HOSTS_NAMESPACE))
        if line and line != last:
            _say(f"hosts after {time.monotonic() - started:.0f}s: {line}")
            last = line
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=2.0)


async def up(args: argparse.Namespace) -> int:
    from teapot.api import all_crds
    from teapot.apiserver.server import EmbeddedAPIServer, ServerSettings
    from teapot.cli.common import run_until_signal
    from teapot.runtime import ClientSettings, Manager, ManagerOptions, ResourceRef, connect

    data_dir: Path = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    stack = contextlib.AsyncExitStack()
    stop = asyncio.Event()
    async with stack:
        server = EmbeddedAPIServer(
            ServerSettings(data_dir=data_dir, bind_address=args.bind_address, secure_port=args.secure_port)
        )
        try:
            await server.start()
        except OSError as exc:
            print(
                f"teapot up: cannot listen on {args.bind_address}:{args.secure_port}: {exc.strerror}. "
                "Is another `teapot up` running? Use --secure-port 0 for any free port.",
                file=sys.stderr,
            )
            return 1
        stack.push_async_callback(server.stop)
        _say(f"API server at {server.url} (state in {data_dir})")

        client = await connect(ClientSettings(kubeconfig=str(server.kubeconfig), user_agent="teapot-up"))
        stack.push_async_callback(client.close)
        crd_ref = ResourceRef("apiextensions.k8s.io", "v1", "customresourcedefinitions", namespaced=False)
        for crd in all_crds():
            await _apply(client, crd_ref, crd)
        _say(f"CRDs applied: {', '.join(c['spec']['names']['kind'] for c in all_crds())}")
        ns_ref = ResourceRef("", "v1", "namespaces", namespaced=False)
        await _apply(
            client, ns_ref, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": HOSTS_NAMESPACE}}
        )

        # Order: Ironic, then (with --fleet) the emulated agents, then the BMC emulator that notifies them.
        # Shutdown runs in reverse registration order, so the emulator's stop is registered first:
        # Ironic must stop before the BMCs it talks to (REFERENCES: it can hang on dead BMCs).
        fleet_box: list[Any] = []
        stack.callback(lambda: [f.stop() for f in fleet_box])
        provisioner = None
        if not args.no_ironic:
            provisioner = await _start_ironic(args, data_dir / "ironic", stack, with_agents=bool(args.fleet))
        fleet = None
        if args.fleet:
            farm = None
            if provisioner is not None and provisioner.settings.deploy_iso:
                farm = await _start_agents(args.fleet, provisioner.settings.url, stack)
            fleet = _start_fleet(args.fleet, data_dir / "fleet", farm)
            fleet_box.append(fleet)
            _say(f"emulated datacenter: {len(fleet.hosts)} hosts, Redfish BMCs at {fleet.base_url}")

        manager = Manager(
            client,
            ManagerOptions(
                component="teapot",
                metrics_bind_address=f"127.0.0.1:{args.metrics_port}",
                handle_signals=False,
            ),
        )
        if provisioner is not None:
            from teapot.hosts.controller import setup_host_controller

            setup_host_controller(manager, provisioner, options=host_controller_options(args))
        from teapot.tenancy import setup_tenancy_controllers

        setup_tenancy_controllers(manager, hosts_namespace=HOSTS_NAMESPACE)
        manager_task = asyncio.create_task(manager.run(), name="teapot-controllers")

        async def stop_manager() -> None:
            manager.stop()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(manager_task, timeout=15)

        stack.push_async_callback(stop_manager)
        for _ in range(100):  # the metrics server binds inside manager.run()
            if manager.metrics_port or manager_task.done():
                break
            await asyncio.sleep(0.02)
        _say(f"controllers running (metrics at http://127.0.0.1:{manager.metrics_port}/metrics)")

        bmh_ref = ResourceRef("metal3.io", "v1alpha1", "baremetalhosts", namespaced=True)
        if fleet is not None:
            secret_ref = ResourceRef("", "v1", "secrets", namespaced=True)
            docs = list(fleet.manifests(HOSTS_NAMESPACE))
            # Secrets first (a host without its Secret would report a credentials error), then the
            # hosts, a few requests in flight at once.
            for kind, ref in (("Secret", secret_ref), ("BareMetalHost", bmh_ref)):
                await _apply_all(client, ref, [d for d in docs if d["kind"] == kind], HOSTS_NAMESPACE)
            _say(f"enrolled {len(fleet.hosts)} BareMetalHosts in namespace {HOSTS_NAMESPACE}")
            from teapot.runtime import InformerOptions
            from teapot.tenancy import keys as tenancy_keys

            hosts_informer = manager.informer(
                tenancy_keys.BAREMETALHOSTS, InformerOptions(namespace=HOSTS_NAMESPACE)
            )  # the allocation controller's: the same cache, no second watch
            summary = asyncio.create_task(_summarise_hosts(hosts_informer, stop))
        else:
            summary = None

        kc = server.kubeconfig
        print(
            "\nTeapot is up. Try:\n"
            f"  export KUBECONFIG={kc}\n"
            f"  kubectl get baremetalhosts -n {HOSTS_NAMESPACE} -w\n"
            "  kubectl get crds\n"
            "  kubectl explain baremetalhost.spec\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        await run_until_signal()
        _say("stopping …")
        stop.set()
        if summary is not None:
            summary.cancel()
    _say("stopped")
    return 0


def _load_datacenter(spec: str) -> Any:
    from teapot.fleet import generate_datacenter, load_datacenter

    return generate_datacenter(int(spec)) if spec.isdigit() else load_datacenter(Path(spec))


async def _start_agents(spec: str, ironic_url: str, stack: contextlib.AsyncExitStack) -> Any:
    """Emulated ironic-python-agents for the fleet's hosts (cleaning, inspection, disk-image deploys)."""
    from teapot.fleet.agent import AgentFarm, AgentFarmSettings

    farm = AgentFarm(_load_datacenter(spec), AgentFarmSettings(ironic_url=ironic_url, time_scale=0.1))
    await farm.start()
    stack.push_async_callback(farm.stop)
    return farm


def _start_fleet(spec: str, state_dir: Path, farm: Any) -> Any:
    from teapot.fleet import Fleet

    fleet = Fleet(
        _load_datacenter(spec),
        state_dir=state_dir,
        power_delay_s=1.0,
        notify_url=farm.notify_url if farm is not None else None,
        scheme="redfish-virtualmedia",
    )
    fleet.start()
    if farm is not None:
        farm.attach(fleet)
    return fleet


async def _start_ironic(
    args: argparse.Namespace, ironic_dir: Path, stack: contextlib.AsyncExitStack, *, with_agents: bool
) -> Any:
    from teapot.hosts.ironic import (
        IronicProvisioner,
        IronicProvisionerSettings,
        IronicService,
        IronicSettings,
    )

    if args.ironic_url:
        _say(f"using Ironic at {args.ironic_url}")
        return IronicProvisioner(IronicProvisionerSettings(url=args.ironic_url))
    from teapot.hosts.ironic.images import write_live_iso
    from teapot.hosts.ironic.service import free_port

    settings = IronicSettings(data_dir=ironic_dir, api_port=free_port(), http_port=free_port())
    _say("starting Ironic (first start creates its database: ~10 s) …")
    service = IronicService(settings)
    await service.start()
    stack.push_async_callback(service.stop)
    _say(f"Ironic at {service.url}, images served from {service.http_url}")
    deploy_iso = None
    if with_agents:
        # The emulated agents recognise the agent ramdisk ISO by its volume id.
        from teapot.fleet.agent import AGENT_ISO_VOLUME_ID

        write_live_iso(service.http_root / "teapot-ipa.iso", volume_id=AGENT_ISO_VOLUME_ID)
        deploy_iso = f"{service.http_url.rstrip('/')}/teapot-ipa.iso"
    return IronicProvisioner(IronicProvisionerSettings(url=service.url, deploy_iso=deploy_iso))


def run(args: argparse.Namespace) -> int:
    from teapot.cli.common import run as run_loop

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return run_loop(up(args))
