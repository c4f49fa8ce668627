"""End to end: the tenancy controllers against a real ``teapot apiserver`` (token auth + RBAC), with
kubectl as the tenant and ``teapot explain`` / ``teapot whatif`` as subprocesses.

BareMetalHosts are created and their ``status`` (provisioning state ``available``) and hardware
labels are set directly through the API instead of running Ironic: the host lifecycle is tested in
tests/hosts; here only allocation, status, RBAC and the CLI are under test.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from teapot.api import all_crds
from teapot.api import labels as L
from teapot.runtime import ApiError, ClientSettings, KubeClient, Manager, ManagerOptions, ResourceRef, connect
from teapot.tenancy import TenancyOptions, keys, setup_tenancy_controllers
from tests.conftest import VENV_BIN, RunningAPIServer, start_apiserver, stop_apiserver

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

HOSTS_NS = "teapot-hosts"
SECRETS = ResourceRef("", "v1", "secrets", kind="Secret")
FAST = TenancyOptions(
    lead_time=timedelta(seconds=3), grace_period=timedelta(seconds=6), resync=timedelta(seconds=5)
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningAPIServer, Path, Path]]:
    root = tmp_path_factory.mktemp("tenancy")
    tokens = root / "tokens.csv"
    tokens.write_text(
        'admin-token,admin,1,"system:masters"\nalice-token,alice,2,"lab"\nbob-token,bob,3,"lab"\n'
    )
    data = root / "data"
    data.mkdir()
    srv = start_apiserver(data, "--token-auth-file", str(tokens))
    cfg = yaml.safe_load(srv.kubeconfig.read_text())
    paths = []
    for user in ("alice", "bob"):
        cfg["users"][0]["user"] = {"token": f"{user}-token"}
        path = root / f"{user}.kubeconfig"
        path.write_text(yaml.safe_dump(cfg))
        paths.append(path)
    srv.kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(all_crds()))
    yield srv, paths[0], paths[1]
    stop_apiserver(srv)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def api(server: tuple[RunningAPIServer, Path, Path]) -> AsyncIterator[KubeClient]:
    client = await connect(ClientSettings(kubeconfig=str(server[0].kubeconfig)))
    yield client
    await client.close()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


def bmh(name: str, cls: str, rack: str) -> dict[str, Any]:
    return {
        "apiVersion": "metal3.io/v1alpha1",
        "kind": "BareMetalHost",
        "metadata": {
            "name": name,
            "namespace": HOSTS_NS,
            "labels": {
                L.TOPOLOGY_REGION: "eu",
                L.TOPOLOGY_RACK: rack,
                L.HW_CPU_CORES: "64" if cls == "big" else "8",
                L.HW_MEMORY_GIB: "256" if cls == "big" else "32",
                "hardware.teapot.dev/size": cls,
            },
        },
        "spec": {"online": False, "bootMACAddress": f"52:54:00:00:00:{len(name):02x}"},
    }


async def kubectl(
    srv: RunningAPIServer, *args: str, kubeconfig: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(srv.kubectl, *args, kubeconfig=kubeconfig, check=check)


async def teapot(*args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [str(VENV_BIN / "teapot"), *args], capture_output=True, text=True, timeout=60
    )


async def test_tenancy_end_to_end(server: tuple[RunningAPIServer, Path, Path], api: KubeClient) -> None:
    srv, alice, bob = server
    await api.create(
        keys.NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": HOSTS_NS}}
    )
    await api.create(
        SECRETS,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "bmc-s1", "namespace": HOSTS_NS},
            "stringData": {"password": "x"},
        },
    )
    layout = [
        ("s1", "small", "r1"),
        ("s2", "small", "r1"),
        ("s3", "small", "r2"),
        ("s4", "small", "r2"),
        ("b1", "big", "r1"),
        ("b2", "big", "r2"),
    ]
    for name, cls, rack in layout:
        await api.create(keys.BAREMETALHOSTS, bmh(name, cls, rack))
        await api.patch(
            keys.BAREMETALHOSTS,
            name,
            {"status": {"operationalStatus": "OK", "provisioning": {"state": "available"}}},
            HOSTS_NS,
            subresource="status",
        )
    for cls, price in (("small", 1.0), ("big", 5.0)):
        await api.create(
            keys.HOSTCLASSES,
            {
                "apiVersion": keys.API_VERSION,
                "kind": "HostClass",
                "metadata": {"name": cls},
                "spec": {"selector": {"matchLabels": {"hardware.teapot.dev/size": cls}}, "price": price},
            },
        )
    for tenant, user, guarantees in (("physics", "alice", {"small": 2}), ("bio", "bob", {"big": 1})):
        await api.create(
            keys.TENANTS,
            {
                "apiVersion": keys.API_VERSION,
                "kind": "Tenant",
                "metadata": {"name": tenant},
                "spec": {
                    "namespaces": [tenant],
                    "users": [user],
                    "guarantees": [{"hostClass": c, "count": n} for c, n in guarantees.items()],
                },
            },
        )

    manager = Manager(
        api, ManagerOptions(component="teapot-tenancy-e2e", metrics_bind_address=None, handle_signals=False)
    )
    setup_tenancy_controllers(manager, hosts_namespace=HOSTS_NS, options=FAST)
    task = asyncio.create_task(manager.run())
    try:
        await _scenario(srv, api, alice, bob)
    finally:
        manager.stop()
        await asyncio.wait_for(task, timeout=20)


async def _get(api: KubeClient, ref: Any, name: str, namespace: str | None = None) -> dict[str, Any]:
    return await api.get(ref, name, namespace)


async def _holders(api: KubeClient) -> dict[str, str]:
    items = (await api.list(keys.BAREMETALHOSTS, HOSTS_NS)).get("items") or []
    out = {}
    for h in items:
        ref = (h.get("spec") or {}).get("consumerRef")
        if ref:
            out[h["metadata"]["name"]] = f"{ref['namespace']}/{ref['name']}"
    return out


def _claim(namespace: str, name: str, count: int, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": keys.API_VERSION,
        "kind": "HostClaim",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"count": count, **spec},
    }


async def _scenario(srv: RunningAPIServer, api: KubeClient, alice: Path, bob: Path) -> None:
    # tenants admitted; their namespaces exist and are labelled
    async def admitted() -> bool:
        tenants = [await _get(api, keys.TENANTS, t) for t in ("physics", "bio")]
        return all((t.get("status") or {}).get("phase") == "Admitted" for t in tenants)

    await eventually(admitted, what="tenants admitted")
    ns = await _get(api, keys.NAMESPACES, "physics")
    assert ns["metadata"]["labels"][keys.TENANT_LABEL] == "physics"

    # bio borrows every cheap host (it has no small guarantee): the cheapest 4, as preemptible,
    # created by bob himself through his RBAC
    await asyncio.to_thread(
        srv.kubectl,
        "create",
        "-f",
        "-",
        input=yaml.safe_dump(_claim("bio", "batch", 4, requirements={"hostClass": "small"})),
        kubeconfig=bob,
    )

    async def batch_bound() -> bool:
        status = (await _get(api, keys.HOSTCLAIMS, "batch", "bio")).get("status") or {}
        return status.get("phase") == "Bound"

    await eventually(batch_bound, what="bio/batch bound")
    holders = await _holders(api)
    assert sorted(holders) == ["s1", "s2", "s3", "s4"]  # price 1 beats price 5
    s1 = await _get(api, keys.BAREMETALHOSTS, "s1", HOSTS_NS)
    assert s1["spec"]["consumerRef"]["kind"] == "HostClaim" and s1["spec"]["online"] is True
    assert s1["metadata"]["annotations"][keys.BAND] == "preemptible"
    batch = await _get(api, keys.HOSTCLAIMS, "batch", "bio")
    assert keys.FINALIZER in batch["metadata"]["finalizers"]

    # physics reclaims its guarantee of 2 small hosts: bio's claim shows the reclaim time
    image = {"url": "http://images.example/ubuntu.qcow2", "checksum": "abc"}
    await api.create(
        keys.HOSTCLAIMS, _claim("physics", "job", 2, requirements={"hostClass": "small"}, image=image)
    )

    async def preempting() -> bool:
        status = (await _get(api, keys.HOSTCLAIMS, "batch", "bio")).get("status") or {}
        return status.get("phase") == "Preempting"

    await eventually(preempting, what="bio/batch pre-empted")
    victim = (await _get(api, keys.HOSTCLAIMS, "batch", "bio"))["status"]
    assert victim["reason"] == "Preempted"
    assert sum(1 for h in victim["hosts"] if h.get("reclaimAt")) == 2
    explained = await teapot("explain", "hostclaim/batch", "-n", "bio", "--kubeconfig", str(srv.kubeconfig))
    assert explained.returncode == 0, explained.stderr
    # on a busy machine the CLI may start after the grace period: then the event tells the story
    assert "taken back" in explained.stdout and "physics/job" in explained.stdout, explained.stdout

    async def job_bound() -> bool:
        status = (await _get(api, keys.HOSTCLAIMS, "job", "physics")).get("status") or {}
        return status.get("phase") == "Bound"

    await eventually(job_bound, what="physics/job bound after the grace period")
    holders = await _holders(api)
    mine = sorted(h for h, c in holders.items() if c == "physics/job")
    assert len(mine) == 2 and all(h.startswith("s") for h in mine)
    host = await _get(api, keys.BAREMETALHOSTS, mine[0], HOSTS_NS)
    assert host["spec"]["image"] == image and host["metadata"]["annotations"][keys.BAND] == "on-demand"
    batch_status = (await _get(api, keys.HOSTCLAIMS, "batch", "bio"))["status"]
    assert batch_status["bound"] == 2 and batch_status["phase"] == "PartiallyBound"
    small = await _get(api, keys.HOSTCLASSES, "small")
    assert small["status"] == {"hosts": 4, "healthy": 4, "free": 0}
    events = (await api.list(keys.EVENTS, "bio")).get("items") or []
    assert any(e.get("reason") == "Preempted" for e in events)

    # tenant isolation, checked with kubectl as alice
    async def can(verb: str, resource: str, namespace: str, kubeconfig: Path = alice) -> str:
        result = await kubectl(
            srv, "auth", "can-i", verb, resource, "-n", namespace, kubeconfig=kubeconfig, check=False
        )
        return result.stdout.strip()

    async def rbac_ready() -> bool:
        return await can("get", f"baremetalhosts/{mine[0]}", HOSTS_NS) == "yes"

    await eventually(rbac_ready, what="alice may read her hosts")
    assert await can("create", "hostclaims", "physics") == "yes"
    assert await can("delete", "reservations", "physics") == "yes"
    assert await can("list", "hostclaims", "bio") == "no"
    assert await can("get", "secrets", HOSTS_NS) == "no"
    assert await can("list", "baremetalhosts", HOSTS_NS) == "no"
    assert await can("update", f"baremetalhosts/{mine[0]}", HOSTS_NS) == "no"
    other = sorted(h for h, c in holders.items() if c == "bio/batch")[0]
    assert await can("get", f"baremetalhosts/{other}", HOSTS_NS) == "no"
    got = await kubectl(srv, "get", "baremetalhost", mine[0], "-n", HOSTS_NS, "-o", "name", kubeconfig=alice)
    assert got.stdout.strip().endswith(mine[0])
    denied = await kubectl(srv, "get", "hostclaims", "-n", "bio", kubeconfig=alice, check=False)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()
    denied = await kubectl(srv, "get", "secret", "bmc-s1", "-n", HOSTS_NS, kubeconfig=alice, check=False)
    assert denied.returncode != 0
    mine_listed = await kubectl(srv, "get", "hostclaims", "-n", "physics", "-o", "name", kubeconfig=alice)
    assert "hostclaim.teapot.dev/job" in mine_listed.stdout

    # a reservation window arrives: a claim made through it turns from preemptible to reserved
    start = datetime.now(UTC) + timedelta(seconds=8)
    end = start + timedelta(minutes=10)
    await api.create(
        keys.RESERVATIONS,
        {
            "apiVersion": keys.API_VERSION,
            "kind": "Reservation",
            "metadata": {"name": "night", "namespace": "physics"},
            "spec": {
                "count": 1,
                "requirements": {"hostClass": "big"},
                "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "end": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        },
    )

    async def reservation_phase(phase: str) -> bool:
        status = (await _get(api, keys.RESERVATIONS, "night", "physics")).get("status") or {}
        return status.get("phase") == phase

    await eventually(lambda: reservation_phase("Admitted"), what="reservation admitted")
    await api.create(keys.HOSTCLAIMS, _claim("physics", "night-job", 1, reservationRef={"name": "night"}))

    async def night_band(band: str) -> bool:
        holders = await _holders(api)
        hosts = [h for h, c in holders.items() if c == "physics/night-job"]
        if len(hosts) != 1:
            return False
        obj = await _get(api, keys.BAREMETALHOSTS, hosts[0], HOSTS_NS)
        return bool(obj["metadata"]["annotations"].get(keys.BAND) == band)

    await eventually(lambda: night_band("preemptible"), what="night-job bound before its window")
    await eventually(lambda: reservation_phase("Active"), timeout=30, what="window opened")
    await eventually(lambda: night_band("reserved"), what="night-job reserved in its window")

    # a refused over-commitment, with its explanation; whatif answers the same without writing
    change = {
        "apiVersion": keys.API_VERSION,
        "kind": "Tenant",
        "metadata": {"name": "bio"},
        "spec": {"namespaces": ["bio"], "users": ["bob"], "guarantees": [{"hostClass": "small", "count": 3}]},
    }
    change_file = srv.data_dir.parent / "change.yaml"
    change_file.write_text(yaml.safe_dump(change))
    before = await _get(api, keys.TENANTS, "bio")
    dry = await teapot(
        "whatif", "-f", str(change_file), "--kubeconfig", str(srv.kubeconfig), "--lead-time", "3"
    )
    assert dry.returncode == 1, dry.stdout + dry.stderr
    assert (
        "REFUSED" in dry.stdout
        and "GuaranteesOverCommitted" in dry.stdout
        and "short by 1 host" in dry.stdout
    )
    assert (await _get(api, keys.TENANTS, "bio"))["metadata"]["resourceVersion"] == before["metadata"][
        "resourceVersion"
    ]
    change["spec"]["guarantees"] = [{"hostClass": "small", "count": 2}]
    change_file.write_text(yaml.safe_dump(change))
    ok = await teapot(
        "whatif", "-f", str(change_file), "--kubeconfig", str(srv.kubeconfig), "--lead-time", "3"
    )
    assert ok.returncode == 0 and "admitted" in ok.stdout, ok.stdout + ok.stderr

    await api.patch(keys.TENANTS, "bio", {"spec": {"guarantees": [{"hostClass": "small", "count": 3}]}})

    async def refused() -> bool:
        status = (await _get(api, keys.TENANTS, "bio")).get("status") or {}
        return status.get("phase") == "Refused"

    await eventually(refused, what="over-commitment refused")
    status = (await _get(api, keys.TENANTS, "bio"))["status"]
    assert status["reason"] == "GuaranteesOverCommitted"
    assert "short by 1 host" in status["message"] and "'physics'" in status["message"]
    explained = await teapot("explain", "tenant/bio", "--kubeconfig", str(srv.kubeconfig))
    assert "Refused" in explained.stdout and "what to do" in explained.stdout, explained.stdout

    # deleting a claim releases its hosts first (finalizer), then the claim goes
    await api.request("DELETE", keys.HOSTCLAIMS.object_path("job", "physics"))

    async def job_gone() -> bool:
        try:
            await _get(api, keys.HOSTCLAIMS, "job", "physics")
        except ApiError as exc:
            return exc.not_found
        return False

    await eventually(job_gone, what="physics/job deleted")
    holders = await _holders(api)
    assert "physics/job" not in holders.values()

    # the freed hosts go back to the borrower that still wants them, without physics' image
    async def batch_whole() -> bool:
        return sorted(h for h, c in (await _holders(api)).items() if c == "bio/batch") == [
            "s1",
            "s2",
            "s3",
            "s4",
        ]

    await eventually(batch_whole, what="bio/batch bound again")
    freed = await _get(api, keys.BAREMETALHOSTS, mine[0], HOSTS_NS)
    assert "image" not in freed["spec"] and freed["metadata"]["labels"][keys.TENANT_LABEL] == "bio"

    # deleting a tenant garbage-collects its RBAC (ownerReferences) and releases its hosts
    assert await can("create", "hostclaims", "bio", kubeconfig=bob) == "yes"
    await api.request("DELETE", keys.TENANTS.object_path("bio"))

    async def bio_gone() -> bool:
        return (
            await can("create", "hostclaims", "bio", kubeconfig=bob) == "no"
            and "bio/batch" not in (await _holders(api)).values()
        )

    await eventually(bio_gone, timeout=30, what="tenant bio's RBAC collected and hosts released")
    batch = (await _get(api, keys.HOSTCLAIMS, "batch", "bio"))["status"]
    assert batch["reason"] == "NoTenant" and batch["bound"] == 0
