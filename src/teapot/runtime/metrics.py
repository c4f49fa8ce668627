"""Prometheus metrics of the runtime, named like controller-runtime's and client-go's.

Why: operators already have dashboards and alerts for ``controller_runtime_reconcile_total``,
``workqueue_depth`` and ``rest_client_requests_total``; reusing those names means Teapot's
controllers show up on them unchanged. Every metric lives in one registry (:data:`REGISTRY`) that
the Manager serves on ``/metrics``; a separate registry keeps tests and embedding processes from
colliding with whatever else uses prometheus-client's global one.

Client-side throttling is a known silent bottleneck (Metal3 at 1,000 hosts), so the rate limiter
reports both its configured limit (``rest_client_rate_limit_qps``; 0 means unlimited) and the time
requests spent waiting for it (``rest_client_rate_limiter_duration_seconds``).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_QUEUE_BUCKETS = (1e-5, 1e-4, 1e-3, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)

# --- reconcile loop (controller-runtime: pkg/internal/controller/metrics) ---------------------
RECONCILE_TOTAL = Counter(
    "controller_runtime_reconcile_total",
    "Total number of reconciliations per controller, by result (success, error, requeue, requeue_after).",
    ["controller", "result"],
    registry=REGISTRY,
)
RECONCILE_ERRORS = Counter(
    "controller_runtime_reconcile_errors_total",
    "Total number of reconciliation errors per controller.",
    ["controller"],
    registry=REGISTRY,
)
RECONCILE_TIME = Histogram(
    "controller_runtime_reconcile_time_seconds",
    "Length of time per reconciliation per controller.",
    ["controller"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
ACTIVE_WORKERS = Gauge(
    "controller_runtime_active_workers",
    "Number of currently used workers per controller.",
    ["controller"],
    registry=REGISTRY,
)
MAX_CONCURRENT_RECONCILES = Gauge(
    "controller_runtime_max_concurrent_reconciles",
    "Maximum number of concurrent reconciles per controller.",
    ["controller"],
    registry=REGISTRY,
)

# --- work queue (client-go: util/workqueue metrics as exported by controller-runtime) ---------
WORKQUEUE_DEPTH = Gauge("workqueue_depth", "Current depth of the work queue.", ["name"], registry=REGISTRY)
WORKQUEUE_ADDS = Counter(
    "workqueue_adds_total", "Total number of adds handled by the work queue.", ["name"], registry=REGISTRY
)
WORKQUEUE_RETRIES = Counter(
    "workqueue_retries_total", "Total number of rate-limited retries.", ["name"], registry=REGISTRY
)
WORKQUEUE_QUEUE_DURATION = Histogram(
    "workqueue_queue_duration_seconds",
    "How long an item stays in the work queue before being requested.",
    ["name"],
    buckets=_QUEUE_BUCKETS,
    registry=REGISTRY,
)
WORKQUEUE_WORK_DURATION = Histogram(
    "workqueue_work_duration_seconds",
    "How long processing an item from the work queue takes.",
    ["name"],
    buckets=_QUEUE_BUCKETS,
    registry=REGISTRY,
)
WORKQUEUE_UNFINISHED_WORK = Gauge(
    "workqueue_unfinished_work_seconds",
    "Seconds of work in progress that has not been observed by work_duration (stuck workers show here).",
    ["name"],
    registry=REGISTRY,
)
WORKQUEUE_LONGEST_RUNNING = Gauge(
    "workqueue_longest_running_processor_seconds",
    "Seconds the longest running processor of the work queue has been running.",
    ["name"],
    registry=REGISTRY,
)

# --- REST client (client-go: tools/metrics) ---------------------------------------------------
REST_REQUESTS = Counter(
    "rest_client_requests_total",
    "Number of HTTP requests to the Kubernetes API, by method and status code.",
    ["method", "code"],
    registry=REGISTRY,
)
REST_LATENCY = Histogram(
    "rest_client_request_duration_seconds",
    "Request latency to the Kubernetes API (until headers; watches count to their first byte).",
    ["method"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
REST_RATE_LIMIT_QPS = Gauge(
    "rest_client_rate_limit_qps",
    "Configured client-side request rate limit in requests/s (0 = unlimited).",
    registry=REGISTRY,
)
REST_RATE_LIMIT_WAIT = Histogram(
    "rest_client_rate_limiter_duration_seconds",
    "Time requests waited for the client-side rate limiter.",
    buckets=(0.0, 0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0),
    registry=REGISTRY,
)
REST_POOL_SIZE = Gauge(
    "rest_client_connection_pool_size",
    "Maximum number of concurrent HTTP connections to the API server (0 = unlimited).",
    registry=REGISTRY,
)

# --- informers, leader election, events ------------------------------------------------------
INFORMER_RELISTS = Counter(
    "teapot_informer_relists_total",
    "Full re-lists by informers, by reason (initial, gone, error).",
    ["resource", "reason"],
    registry=REGISTRY,
)
INFORMER_EVENTS = Counter(
    "teapot_informer_watch_events_total",
    "Watch events received by informers, by type.",
    ["resource", "type"],
    registry=REGISTRY,
)
INFORMER_OBJECTS = Gauge(
    "teapot_informer_objects", "Objects held in an informer's cache.", ["resource"], registry=REGISTRY
)
LEADER_ELECTION_MASTER = Gauge(
    "leader_election_master_status",
    "1 while this process is the leader for the named lease, else 0.",
    ["name"],
    registry=REGISTRY,
)
EVENTS_DROPPED = Counter(
    "teapot_events_dropped_total",
    "Events not written because the recorder's buffer was full or the write failed.",
    ["reason"],
    registry=REGISTRY,
)
