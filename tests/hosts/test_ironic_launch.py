"""The Ironic launcher's session-key digest, checked inside the services interpreter against real Ironic code."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from teapot.hosts.ironic.config import find_services_bin

LAUNCH = Path(__file__).resolve().parents[2] / "src" / "teapot" / "hosts" / "ironic" / "launch.py"

_PROBE = r"""
import hashlib, importlib.util, json, sys, time
import ironic.command.singleprocess  # as the launcher does: selects the service backend first
spec = importlib.util.spec_from_file_location("teapot_ironic_launch", sys.argv[1])
launch = importlib.util.module_from_spec(spec)
spec.loader.exec_module(launch)
from ironic.drivers.modules.redfish import utils

def info(password, address="https://10.0.0.1:8000"):
    return {"address": address, "username": "admin", "password": password, "verify_ca": True}

def timed(driver_info):
    t = time.process_time()
    key = utils.SessionCache(driver_info)._session_key
    return key, time.process_time() - t

unpatched, unpatched_s = timed(info("s3cret"))
applied = launch.patch_redfish_session_cache()
first, first_s = timed(info("s3cret"))
again, again_s = timed(info("s3cret"))
other, _ = timed(info("other"))
elsewhere, _ = timed(info("s3cret", "https://10.0.0.2:8000"))
print(json.dumps({
    "applied": applied,
    "stable": first == again,
    "same_shape": len(unpatched) == len(first) and len(unpatched[-1]) == len(first[-1]),
    "differs_from_pbkdf2": unpatched != first,
    "password_changes_key": other != first,
    "address_changes_key": elsewhere != first,
    "unpatched_s": unpatched_s, "first_s": first_s, "again_s": again_s,
    "global_hashlib_untouched": hashlib.pbkdf2_hmac.__module__ != "teapot_ironic_launch",
    "password_in_key": any("s3cret" in str(part) for part in first),
}))
"""


def test_session_keys_are_stable_distinct_and_cheap() -> None:
    python = find_services_bin() / "python"
    out = subprocess.run(
        [str(python), "-c", _PROBE, str(LAUNCH)], capture_output=True, text=True, check=True, timeout=120
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["applied"] is True
    # the same credentials find the same cached session; changed ones open a new one
    assert result["stable"] and result["same_shape"] and result["differs_from_pbkdf2"]
    assert result["password_changes_key"] and result["address_changes_key"]
    assert result["global_hashlib_untouched"] and not result["password_in_key"]
    # Ironic's PBKDF2 costs ~0.3 CPU-s per connection lookup; the keyed HMAC costs microseconds
    assert result["unpatched_s"] > 0.05
    assert (
        result["first_s"] < result["unpatched_s"] / 10 and result["again_s"] < result["unpatched_s"] / 10
    ), result
