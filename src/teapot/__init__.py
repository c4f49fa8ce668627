"""Teapot: a Kubernetes-native bare-metal cloud.

Layers (lower never import higher): ``teapot.apiserver`` (API machinery) → ``teapot.runtime``
(client + controller runtime) → ``teapot.api`` (resource types) → ``teapot.allocation`` (pure
domain) → ``teapot.hosts`` / ``teapot.tenancy`` (controllers) → ``teapot.cli`` (edges).
``teapot.fleet`` emulates a datacenter and is never imported by the product.
"""

__version__ = "0.1.0"
