"""Writing secret files safely: owner-only (0600) and atomic.

Why it exists: keys, tokens and kubeconfigs must never be readable by other users, not even for the
moment between ``open`` and ``chmod``, and a crash must never leave half a key behind that a later
start would "reuse". Every secret the auth package writes goes through :func:`write_private`.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if missing; a directory we create is 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def write_private(path: Path, data: bytes) -> Path:
    """Atomically replace ``path`` with ``data``, mode 0600 from the first byte on."""
    ensure_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # O_CREAT's mode is filtered by the umask and ignored for existing files
        with os.fdopen(fd, "wb") as f:
            fd = -1
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return path
