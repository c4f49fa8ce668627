"""deploy/ stays in sync with the code: the committed CRDs are exactly `teapot crds`."""

from __future__ import annotations

from pathlib import Path

import yaml

from teapot.api import all_crds

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_committed_crds_match_the_models() -> None:
    committed = list(yaml.safe_load_all((DEPLOY / "crds.yaml").read_text()))
    assert committed == all_crds(), "run: teapot crds > deploy/crds.yaml"


def test_kustomization_lists_existing_files() -> None:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    for name in kustomization["resources"]:
        assert (DEPLOY / name).is_file(), name
    docs = [d for f in ("rbac.yaml", "deployment.yaml") for d in yaml.safe_load_all((DEPLOY / f).read_text())]
    kinds = {d["kind"] for d in docs}
    assert {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment"} <= kinds
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "controllers"
