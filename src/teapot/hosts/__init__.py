"""Bare-metal hosts: Metal3's ``BareMetalHost`` lifecycle driven through a provisioning engine.

Why this package exists: it is the controller layer for physical machines (see docs/hosts.md).
:mod:`teapot.hosts.provisioner` is the small Protocol the controller speaks; :mod:`teapot.hosts.ironic`
implements it over real Ironic; :mod:`teapot.hosts.controller` reconciles BareMetalHosts
(``setup_host_controller(manager, provisioner)`` wires it into a runtime Manager). Nothing here
imports the emulated datacenter (:mod:`teapot.fleet`): that is for demos and tests only.
"""
