"""The Redfish emulator process: sushy-tools with Teapot's systems driver, auth and faults.

Why a separate sub-package: this code runs inside the *services* virtualenv (where sushy-tools,
Flask and Ironic live), not in Teapot's own.  It therefore imports only the standard library,
sushy-tools and its dependencies — never the rest of ``teapot`` — and talks to the parent
process through one JSON file (:mod:`teapot.fleet.emulator.spec`) and an HTTP control API.
Start it with ``python -m teapot.fleet.emulator SPEC.json`` (``teapot.fleet.Fleet`` does).
"""
