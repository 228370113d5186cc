"""python -m offline's outputs for machines and people: --json, --render-dir, --diagram, --policy-pack."""

from __future__ import annotations

import json

import yaml
from conftest import ROOT

from offline import diagram, outputs
from offline.__main__ import main
from offline.kube.api_server import unwrap_secrets
from offline.kube.schemas import KubeSchemas

DOCS_DOT = ROOT / "docs" / "network-dev.dot"


def _secret_values(result) -> list[str]:
    """Every secret's plaintext in the run: the generated passwords and secret inputs."""
    found = []

    def walk(value, secret=False):
        from pulumi.runtime import rpc

        if rpc.is_rpc_secret(value):
            return walk(rpc.unwrap_rpc_secret(value), True)
        if isinstance(value, dict):
            for v in value.values():
                walk(v, secret)
        elif isinstance(value, list):
            for v in value:
                walk(v, secret)
        elif secret and isinstance(value, str) and len(value) >= 8:
            found.append(value)

    for r in result.resources:
        walk(r.inputs)
        walk(r.outputs)
    return found


def test_json_render_dir_and_diagram_hold_no_secret_and_render_apply_able_objects(dev_records, tmp_path):
    result = dev_records
    secrets = _secret_values(result)
    assert secrets, "the dev stack has generated passwords to leak"
    doc = json.dumps(outputs.document(result, [], []), sort_keys=True, default=str)
    written = outputs.render_dir(result, tmp_path / "k8s")
    dot = diagram.dot_source(result)
    for text in [doc, dot, *(p.read_text() for p in written)]:
        assert not any(s in text for s in secrets)

    kube = [r for r in result.resources if r.type.startswith("kubernetes:") and "helm.sh" not in r.type]
    assert len(written) == len(kube) and [p.name[:3] for p in written] == [f"{i:03d}" for i in range(1, len(kube) + 1)]
    schemas = KubeSchemas("1.35")
    for path in written:  # each file is one object the API server accepts (strict schema)
        obj = yaml.safe_load(path.read_text())
        assert schemas.errors(obj) == [], path.name
    secret = yaml.safe_load(next(p for p in written if "-secret-" in p.name).read_text())
    assert set(secret["stringData"]) == set(unwrap_secrets(
        next(r for r in kube if r.type == "kubernetes:core/v1:Secret").inputs)["stringData"])
    assert set(secret["stringData"].values()) == {outputs.REDACTED}
    first_ns = next(i for i, p in enumerate(written) if "-namespace-webapp" in p.name)
    assert all(i > first_ns for i, p in enumerate(written) if "-webapp-" in p.name and "namespace" not in p.name)


def test_diagram_shows_each_node_block_and_its_pod_route_in_every_private_table(dev_records, tmp_path):
    result = dev_records
    dot = diagram.dot_source(result)
    for n in (1, 2, 3):
        assert f"node{n}\\npods 10.1.{n}.0/24\\nsrc/dst check off" in dot
        assert dot.count(f'[label="10.1.{n}.0/24", color=darkgreen') == 2  # one route per private table
    assert "NLB (internal)" in dot and "ALB (internet-facing)" in dot  # the dev stack: internal NLB, public ALB (allowHttp)
    svg = diagram.render(result, tmp_path / "net.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "node1" in svg
    # docs/network-dev.svg is rendered from this DOT; Graphviz versions differ in their SVG bytes, so the
    # committed DOT is what must be current.
    assert DOCS_DOT.read_text() == dot, \
        "regenerate: python -m offline --diagram docs/network-dev.svg --diagram docs/network-dev.dot"


def test_cli_json_on_stdout_progress_on_stderr_and_a_mandatory_violation_fails(tmp_path, capsys):
    config = tmp_path / "policy-config.json"
    config.write_text(json.dumps({"route-table-quota": {"routesPerRouteTable": 4}}))
    status = main(["--cwd", str(ROOT), "--json", "--policy-pack", str(ROOT / "policypack"),
                   "--policy-pack-config", str(config), "--render-dir", str(tmp_path / "k8s"),
                   "--diagram", str(tmp_path / "net.png")])
    out, err = capsys.readouterr()
    doc = json.loads(out)  # stdout is the JSON document alone
    assert status == 1
    assert doc["checks"] == {"ok": True, "problems": []}
    assert {"resources", "outputs", "flows", "policies"} <= set(doc)
    assert all(f["policy"] == f["expected"] for f in doc["flows"]) and doc["flows"]
    # The mandatory one the config provokes; the dev stack's deliberate loosening as advisories.
    levels = {level: {v["policy"] for v in doc["policies"]["violations"] if v["level"] == level}
              for level in ("mandatory", "advisory")}
    assert levels == {"mandatory": {"route-table-quota"},
                      "advisory": {"api-endpoint-exposure", "load-balancer-exposure", "eks-deletion-protection"}}
    assert "Previewing update (dev)" in err and "] running policy pack" in err
    assert (tmp_path / "net.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
