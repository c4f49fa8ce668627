"""The host controller's tunables on ``teapot up`` and ``teapot controllers``."""

from __future__ import annotations

import pytest

from teapot.cli.common import host_controller_options
from teapot.cli.main import build_parser
from teapot.cli.up_cmd import host_progress
from teapot.hosts.controller import HostControllerOptions


@pytest.mark.parametrize("command", [["up"], ["controllers"]])
def test_flags_reach_the_options_and_default_to_them(command: list[str]) -> None:
    parser = build_parser()
    assert host_controller_options(parser.parse_args(command)) == HostControllerOptions()
    args = parser.parse_args(
        [
            *command,
            "--max-concurrent-cleaning",
            "0",
            "--max-concurrent-provisioning",
            "5",
            "--host-workers",
            "2",
        ]
    )
    options = host_controller_options(args)
    assert (options.max_concurrent_cleaning, options.max_concurrent_provisioning, options.workers) == (
        0,
        5,
        2,
    )


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--max-concurrent-cleaning", "-1", "must be 0 or more, not -1"),
        ("--host-workers", "0", "must be 1 or more, not 0"),
        ("--max-concurrent-provisioning", "many", "invalid"),
    ],
)
def test_bad_values_are_refused_naming_the_flag(
    flag: str, value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["up", flag, value])
    err = capsys.readouterr().err
    assert flag in err and message in err


def test_up_progress_line_counts_states_waiters_and_errors() -> None:
    def host(state: str | None, operational: str = "OK", error: str = "") -> dict[str, object]:
        status: dict[str, object] = {"operationalStatus": operational}
        if state:
            status["provisioning"] = {"state": state}
        if error:
            status["errorType"] = error
        return {"status": status}

    hosts = [host(None), host("preparing"), host("preparing", "delayed"), host("preparing", "delayed")]
    hosts += [host("available"), host("inspecting", "error", "inspection error")]
    assert host_progress(hosts) == (
        "1 available, 1 inspecting, 3 preparing, 1 registering; 2 waiting for a cleaning or provisioning slot"
        " (1 with errors: kubectl get bmh -n teapot-hosts)"
    )
    assert host_progress([]) == ""
