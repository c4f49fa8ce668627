"""The embedded Kubernetes-compatible API server.

Why it exists: Teapot is Kubernetes-native, but a laptop, a CI runner or a small edge site has no
Kubernetes. This package serves the Kubernetes API (discovery, CRUD, watch, CRDs with structural
schemas, server-side apply, RBAC) from one process on SQLite, faithfully enough that kubectl, the
official clients and Teapot's own controllers cannot tell it from kube-apiserver. It knows nothing
about bare metal: it serves any CRD.
"""
