"""Teapot's controller runtime: the Kubernetes API only — informers, work queue, reconcile loop,
leader election, events, conditions and metrics.

Why a package of its own: controllers (``teapot.hosts``, ``teapot.tenancy`` …) should be written
against controller-runtime's contract and run unchanged against the embedded API server and a
real cluster. This package never imports ``teapot.apiserver``; see docs/runtime.md.
"""

from __future__ import annotations

from teapot.runtime.client import ApiError, ClientSettings, KubeClient, WatchEvent, connect
from teapot.runtime.conditions import Condition, get_condition, is_true, remove_condition, set_condition
from teapot.runtime.controller import (
    Controller,
    ControllerOptions,
    Reconciler,
    Result,
    generation_changed,
    owner_mapper,
    self_mapper,
)
from teapot.runtime.events import EventRecorder, EventSource
from teapot.runtime.informer import (
    EventHandler,
    FuncHandler,
    InformerFactory,
    InformerOptions,
    SharedInformer,
    strip_managed_fields,
)
from teapot.runtime.leaderelection import LeaderCallbacks, LeaderElectionConfig, LeaderElector
from teapot.runtime.manager import LeadershipLost, Manager, ManagerOptions
from teapot.runtime.ratelimit import BackoffPolicy, TokenBucket
from teapot.runtime.resources import EVENTS, LEASES, KubeObject, ObjectKey, ResourceRef
from teapot.runtime.store import Store
from teapot.runtime.workqueue import QueueOptions, QueueShutDown, WorkQueue

__all__ = [
    "EVENTS",
    "LEASES",
    "ApiError",
    "BackoffPolicy",
    "ClientSettings",
    "Condition",
    "Controller",
    "ControllerOptions",
    "EventHandler",
    "EventRecorder",
    "EventSource",
    "FuncHandler",
    "InformerFactory",
    "InformerOptions",
    "KubeClient",
    "KubeObject",
    "LeaderCallbacks",
    "LeaderElectionConfig",
    "LeaderElector",
    "LeadershipLost",
    "Manager",
    "ManagerOptions",
    "ObjectKey",
    "QueueOptions",
    "QueueShutDown",
    "Reconciler",
    "ResourceRef",
    "Result",
    "SharedInformer",
    "Store",
    "TokenBucket",
    "WatchEvent",
    "WorkQueue",
    "connect",
    "generation_changed",
    "get_condition",
    "is_true",
    "owner_mapper",
    "remove_condition",
    "self_mapper",
    "set_condition",
    "strip_managed_fields",
]
