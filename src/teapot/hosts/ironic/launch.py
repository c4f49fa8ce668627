"""Start Ironic's single-process service with one measured hot spot removed.

Why this module exists: profiling ``bench/hosts.py`` (py-spy on Ironic's conductor worker, 10 hosts
from enrolment to ``available``) put **88 % of Ironic's samples in one line**: every Redfish call
builds ``ironic.drivers.modules.redfish.utils.SessionCache(driver_info)``, whose constructor derives
the cache key with ``hashlib.pbkdf2_hmac('sha512', password, address * 4, 600000)`` — 0.33 CPU-s on
this machine, repeated for *every* power read, boot-mode read, BIOS/firmware cache refresh and
virtual-media call. A host's life from enrolment to ``provisioned`` makes ~40 of them (13.5 to 21 CPU-s
of Ironic per host), and the 60 s power sync alone costs 0.33 CPU-s per host per minute — more than
half a core at 100 hosts with nothing happening.

The derivation is a pure function of (password, address), so this launcher memoizes it inside the
Ironic process: the memo is keyed by an HMAC of the inputs under a random per-process key (no
password or fast hash of one is kept beyond what Ironic itself already holds in ``driver_info`` and in
its session cache key), bounded (LRU), and returns exactly the bytes the original call returns, so the
session key — and so Ironic's "password changed → new session" behaviour — is unchanged.

It runs under the *services* interpreter (``.venv-services``, where Ironic lives) as a plain script:
it must not import anything from Teapot. If a future Ironic no longer has the hot spot, the patch is
skipped with a line on stderr and Ironic starts unchanged. Only the Ironic that Teapot starts gets
it; an existing Ironic (``--ironic-url``) is the operator's own.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import os
import sys
import threading
import types
from typing import Any

#: Derived keys kept; one per (BMC address, password) in use. Ironic's own session cache holds 1,000.
MEMO_SIZE = 4096


def memoized_pbkdf2(original: Any, size: int = MEMO_SIZE) -> Any:
    """Return a drop-in ``pbkdf2_hmac`` that computes each distinct input once."""
    secret = os.urandom(32)
    memo: collections.OrderedDict[bytes, bytes] = collections.OrderedDict()
    lock = threading.Lock()

    def pbkdf2_hmac(
        hash_name: str, password: bytes, salt: bytes, iterations: int, dklen: int | None = None
    ) -> bytes:
        mac = hmac.new(secret, digestmod="sha256")
        for part in (hash_name.encode(), password, salt, str(iterations).encode(), str(dklen).encode()):
            mac.update(len(part).to_bytes(8, "big"))
            mac.update(part)
        key = mac.digest()
        with lock:
            found = memo.get(key)
            if found is not None:
                memo.move_to_end(key)
                return found
        derived: bytes = original(hash_name, password, salt, iterations, dklen)
        with lock:
            memo[key] = derived
            while len(memo) > size:
                memo.popitem(last=False)
        return derived

    return pbkdf2_hmac


def patch_redfish_session_cache() -> bool:
    """Give Ironic's Redfish utilities a ``hashlib`` whose ``pbkdf2_hmac`` is memoized.

    Only that module's view of ``hashlib`` changes; everything else in the process keeps the real one.
    Returns whether the patch was applied.
    """
    try:
        from ironic.drivers.modules.redfish import utils as redfish_utils
    except ImportError as exc:  # pragma: no cover - Ironic without Redfish support
        print(f"teapot: Redfish session-key memo not applied ({exc})", file=sys.stderr)
        return False
    if getattr(redfish_utils, "hashlib", None) is not hashlib:
        print("teapot: Redfish session-key memo not applied (no hashlib in redfish utils)", file=sys.stderr)
        return False
    shim = types.ModuleType("hashlib")
    shim.__dict__.update(hashlib.__dict__)
    shim.pbkdf2_hmac = memoized_pbkdf2(hashlib.pbkdf2_hmac)  # type: ignore[attr-defined]
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
