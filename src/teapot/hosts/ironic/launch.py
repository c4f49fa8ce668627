"""Start Ironic's single-process service with one measured hot spot removed.

Why this module exists: profiling ``bench/hosts.py`` (py-spy on Ironic's conductor worker, 10 hosts
from enrolment to ``available``) put **88 % of Ironic's samples in one line**: every Redfish call
builds ``ironic.drivers.modules.redfish.utils.SessionCache(driver_info)``, whose constructor derives
the cache key with ``hashlib.pbkdf2_hmac('sha512', password, address * 4, 600000)`` — 0.33 CPU-s on
this machine, repeated for *every* power read, boot-mode read, BIOS/firmware cache refresh and
virtual-media call. A host's life from enrolment to ``provisioned`` makes ~40 of them (13.5 to 21 CPU-s
of Ironic per host), and the 60 s power sync alone costs 0.33 CPU-s per host per minute — more than
half a core at 100 hosts with nothing happening.

The value is used for one thing only: as part of the key of Ironic's in-memory session cache, so
that a changed password opens a new session instead of reusing the old one. It is never stored,
sent or compared across processes. This launcher therefore gives the Redfish utilities a ``hashlib``
whose ``pbkdf2_hmac`` is a keyed HMAC (same digest, same length) under a random per-process key:
microseconds instead of 0.33 s, still a different key for every (address, password), still no
password in the key. (A first version memoized the real PBKDF2; that still cost 0.33 CPU-s for every
host's first connection — 5.5 CPU-minutes when 1,000 hosts enrol.)

It runs under the *services* interpreter (``.venv-services``, where Ironic lives) as a plain script:
it must not import anything from Teapot. If a future Ironic no longer has the hot spot, the patch is
skipped with a line on stderr and Ironic starts unchanged. Only the Ironic that Teapot starts gets
it; an existing Ironic (``--ironic-url``) is the operator's own.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sys
import types
from typing import Any


def keyed_session_digest(secret: bytes | None = None) -> Any:
    """A drop-in for ``hashlib.pbkdf2_hmac`` that returns a keyed HMAC of the same inputs.

    Same signature and output length; deterministic within the process (one random *secret*).
    """
    key = secret if secret is not None else os.urandom(32)

    def pbkdf2_hmac(
        hash_name: str, password: bytes, salt: bytes, iterations: int, dklen: int | None = None
    ) -> bytes:
        mac = hmac.new(key, digestmod=hash_name)
        for part in (password, salt, str(iterations).encode()):
            mac.update(len(part).to_bytes(8, "big"))
            mac.update(part)
        digest = mac.digest()
        while dklen is not None and len(digest) < dklen:  # never for Ironic's call (dklen=None)
            digest += hmac.new(key, digest, digestmod=hash_name).digest()
        return digest[:dklen] if dklen is not None else digest

    return pbkdf2_hmac


def patch_redfish_session_cache() -> bool:
    """Give Ironic's Redfish utilities a ``hashlib`` whose ``pbkdf2_hmac`` is a keyed HMAC.

    Only that module's view of ``hashlib`` changes; everything else in the process keeps the real one.
    Returns whether the patch was applied.
    """
    try:
        from ironic.drivers.modules.redfish import utils as redfish_utils
    except ImportError as exc:  # pragma: no cover - Ironic without Redfish support
        print(f"teapot: Redfish session-key digest not replaced ({exc})", file=sys.stderr)
        return False
    if getattr(redfish_utils, "hashlib", None) is not hashlib:
        print(
            "teapot: Redfish session-key digest not replaced (no hashlib in redfish utils)", file=sys.stderr
        )
        return False
    shim = types.ModuleType("hashlib")
    shim.__dict__.update(hashlib.__dict__)
    shim.pbkdf2_hmac = keyed_session_digest()  # type: ignore[attr-defined]
    redfish_utils.hashlib = shim  # type: ignore[attr-defined]
    return True


def main() -> int:
    # Ironic's entry module first: importing it selects the oslo.service backend, which importing the
    # Redfish utilities before it would select differently (BackendAlreadySelected at start).
    from ironic.command.singleprocess import main as ironic_main

    patch_redfish_session_cache()
    for module in ("ironic.conductor.manager", "ironic.networking.manager"):
        if module in sys.modules:  # ironic_main asserts this; fail with a clearer message
            raise SystemExit(f"teapot: importing the Redfish utilities loaded {module} too early")

    # Cotyledon titles the processes after argv ("ironic: master process [ironic --config-file …]").
    sys.argv[0] = os.path.join(os.path.dirname(sys.executable), "ironic")
    result = ironic_main()
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
