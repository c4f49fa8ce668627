from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.runtime.apiserver import ApiServer


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """One embedded API server per test module (each test uses its own names)."""
    server = ApiServer(Path(tmp_path_factory.mktemp("apiserver")))
    server.start()
    try:
        yield server
    finally:
        server.stop()
