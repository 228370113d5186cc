"""The engine's Kubernetes API server: schema validation (built-ins and vendored CRDs) and the
fields and refusals the real server produces."""

from __future__ import annotations

import textwrap

import pytest

from conftest import probe_project
from offline.kube_schema import KubeSchemas, UnknownKind

HEADER = textwrap.dedent('''
    import pulumi
    import pulumi_kubernetes as k8s

    provider = k8s.Provider("k8s", kubeconfig="{}")
    opts = pulumi.ResourceOptions(provider=provider)
    ns = k8s.core.v1.Namespace("ns", metadata={"name": "demo"}, opts=opts)
''')


def _run(run_stack, tmp_path, body: str):
    project = probe_project(tmp_path, HEADER + textwrap.dedent(body))
    return run_stack(project_dir=project, stack="test")


def test_builtin_schema_lists_every_error():
    schemas = KubeSchemas("1.35")
    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
           "spec": {"ports": [{"port": "eighty"}], "selectr": {"app": "x"}}}
    errors = schemas.errors(bad)
    assert any("selectr" in e for e in errors), errors
    assert any(e.startswith("spec.ports.0.port") for e in errors), errors


def test_unknown_kind_is_refused():
    with pytest.raises(UnknownKind):
        KubeSchemas("1.35").errors({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})


def test_schema_version_follows_config():
    # ValidatingAdmissionPolicy went GA (admissionregistration/v1) in 1.30: absent from 1.29.
    vap = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
           "metadata": {"name": "p"}, "spec": {}}
    assert KubeSchemas("1.35").errors(vap) == []
    with pytest.raises(UnknownKind):
        KubeSchemas("1.29").errors(vap)


def test_valid_objects_get_server_fields(run_stack, tmp_path):
    result, engine = _run(run_stack, tmp_path, '''
        svc = k8s.core.v1.Service("svc", metadata={"name": "web", "namespace": ns.metadata["name"]},
            spec={"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
            opts=opts)
        pulumi.export("hostname", svc.status.load_balancer.ingress[0].hostname)
        pulumi.export("nodePort", svc.spec.ports[0].node_port)
    ''')
    assert result.ok, result.error
    assert result.exports["hostname"].endswith(".elb.us-east-1.amazonaws.com")
    assert 30000 <= result.exports["nodePort"] <= 32767
    assert result.named("svc").outputs["spec"]["clusterIP"].startswith("10.100.")


@pytest.mark.parametrize("body, expected", [
    ('k8s.core.v1.ConfigMap("cm", metadata={"name": "c", "namespace": ns.metadata["name"]}, dataa={"a": "b"}, opts=opts)',
     None),  # a Python typo is a TypeError before anything is sent
    ('k8s.core.v1.Service("svc", metadata={"name": "s", "namespace": ns.metadata["name"]}, '
     'spec={"ports": [{"port": 80, "protocl": "TCP"}]}, opts=opts)', "protocl"),
    ('k8s.core.v1.ConfigMap("cm", metadata={"name": "c", "namespace": "missing"}, data={"a": "b"}, opts=opts)',
     'namespaces "missing" not found'),
    ('[k8s.core.v1.Service(f"svc{i}", metadata={"name": f"s{i}", "namespace": ns.metadata["name"]}, '
     'spec={"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}, opts=opts) for i in (1, 2)]',
     "provided port is already allocated"),
    ('k8s.core.v1.Service("svc", metadata={"name": "s", "namespace": ns.metadata["name"]}, '
     'spec={"type": "NodePort", "ports": [{"port": 80, "nodePort": 29999}]}, opts=opts)', "not in the valid range"),
    ('k8s.apiextensions.CustomResource("w", api_version="example.com/v1", kind="Widget", '
     'metadata={"name": "w"}, opts=opts)', "no matches for kind"),
])
def test_api_server_refusals(run_stack, tmp_path, body, expected):
    result, _ = _run(run_stack, tmp_path, body)
    assert not result.ok
    if expected is None:
        assert result.error_kind == "program" and "dataa" in result.error
    else:
        assert result.error_kind == "kubernetes", result.error
        assert expected in result.error
        assert result.error.startswith("the Kubernetes API server rejected kubernetes:")
