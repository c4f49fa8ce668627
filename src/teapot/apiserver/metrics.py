"""Prometheus metrics of the API server, served on ``/metrics`` under kube-apiserver's metric names.

Why it exists: an operator (and a test) needs to see what the server is doing without reading its
code — request counts and latencies per verb and resource, how many watches are open and how many
objects are stored — in the same series kube-apiserver exports, so existing dashboards and alerts
apply. A private ``CollectorRegistry`` keeps it apart from the controllers' metrics when both run in
one process (``teapot up``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from teapot.apiserver.auth.requestinfo import RequestInfo

_COMPONENT = "apiserver"
_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.2,
    0.4,
    0.6,
    0.8,
    1.0,
    1.25,
    1.5,
    2.0,
    3.0,
    5.0,
    10.0,
    30.0,
    60.0,
)
_LABELS = ("verb", "dry_run", "group", "version", "resource", "subresource", "scope", "component")


def report_verb(info: RequestInfo, method: str, content_type: str) -> str:
    """kube's ``CleanVerb``: LIST/WATCH/APPLY for those, the HTTP method otherwise."""
    if info.verb == "list":
        return "LIST"
    if info.verb == "watch":
        return "WATCH"
    if method == "PATCH" and content_type.startswith("application/apply-patch"):
        return "APPLY"
    return method


def scope_of(info: RequestInfo) -> str:
    if not info.is_resource_request:
        return ""
    if info.name:
        return "resource"
    return "namespace" if info.namespace else "cluster"


class _StateCollector(Collector):
    """Gauges computed when scraped: open watches per resource, stored objects per resource."""

    def __init__(
        self, watchers: Callable[[], Mapping[str, int]], objects: Callable[[], Mapping[str, int]]
    ) -> None:
        self.watchers = watchers
        self.objects = objects

    def collect(self) -> Iterator[GaugeMetricFamily]:
        watch = GaugeMetricFamily(
            "apiserver_registered_watchers",
            "Number of currently registered watchers for a given resource",
            labels=["group", "resource"],
        )
        for key, count in sorted(self.watchers().items()):
            group, _, resource = key.partition("/")
            watch.add_metric([group, resource], count)
        yield watch
        stored = GaugeMetricFamily(
            "apiserver_storage_objects",
            "Number of stored objects at the time of last check split by kind.",
            labels=["resource"],
        )
        for key, count in sorted(self.objects().items()):
            group, _, resource = key.partition("/")
            stored.add_metric([f"{resource}.{group}" if group else resource], count)
        yield stored


class APIServerMetrics:
    def __init__(
        self, watchers: Callable[[], Mapping[str, int]], objects: Callable[[], Mapping[str, int]]
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "apiserver_request_total",
            "Counter of apiserver requests broken out for each verb, dry run value, group, version, "
            "resource, scope, component, and HTTP response code.",
            [*_LABELS, "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb, dry run value, group, version, "
            "resource, subresource, scope and component.",
            _LABELS,
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.longrunning = Gauge(
            "apiserver_longrunning_requests",
            "Gauge of all active long-running apiserver requests broken out by verb, group, version, "
            "resource, scope and component.",
            ("verb", "group", "version", "resource", "subresource", "scope", "component"),
            registry=self.registry,
        )
        self._children: dict[tuple[str, ...], tuple[Counter, Histogram]] = {}
        self.registry.register(_StateCollector(watchers, objects))
        ProcessCollector(registry=self.registry)  # process_open_fds, process_resident_memory_bytes …

    def observe(
        self, info: RequestInfo, method: str, content_type: str, dry_run: bool, code: int, seconds: float
    ) -> None:
        verb = report_verb(info, method, content_type)
        labels = (
            verb,
            "All" if dry_run else "",
            info.api_group,
            info.api_version,
            info.resource,
            info.subresource,
            scope_of(info),
            _COMPONENT,
        )
        key = (*labels, str(code))
        children = self._children.get(key)
        if children is None:  # labels() validates and locks: look each series up once
            children = self._children[key] = (self.requests.labels(*key), self.latency.labels(*labels))
        children[0].inc()
        if verb != "WATCH":  # kube leaves long-running requests out of the latency histogram
            children[1].observe(seconds)

    def watch_gauge(self, info: RequestInfo) -> Gauge:
        return self.longrunning.labels(
            "WATCH",
            info.api_group,
            info.api_version,
            info.resource,
            info.subresource,
            scope_of(info),
            _COMPONENT,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
