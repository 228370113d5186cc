"""The engine's Kubernetes API server: schema validation (built-ins and vendored CRDs) and the
fields and refusals the real server produces."""

from __future__ import annotations

import textwrap

import pytest

from conftest import probe_project
from offline.kube.schemas import KubeSchemas, UnknownKind

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


def test_a_kept_answer_is_the_validators_for_that_very_object():
    """errors() keeps its answer per object (offline/kube/schemas.py): the same object gets the same answer, a changed
    one (in place, as the API server's updates do) a new one, and a caller may change the list it gets."""
    schemas = KubeSchemas("1.35")
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"ports": [{"port": 80}]}}
    assert schemas.errors(svc) == []
    svc["spec"]["ports"][0]["port"] = "eighty"
    first = schemas.errors(svc)
    assert first == schemas._errors(svc, "v1", "Service", False) and first[0].startswith("spec.ports.0.port")
    first.clear()
    assert schemas.errors(svc) == schemas._errors(svc, "v1", "Service", False) != []
    assert schemas.errors(svc, partial=True) == schemas._errors(svc, "v1", "Service", True)
    svc["spec"]["ports"][0]["port"] = 80.0  # JSON text "80.0": a new key, an integer to the schema all the same
    assert schemas.errors(svc) == []
    # Not plain JSON: the text would be another object's (a tuple writes as a list), whose answer is [].
    tupled = {**svc, "spec": {"ports": ({"port": 80},)}}
    assert schemas.errors(tupled) == schemas._errors(tupled, "v1", "Service", False) != []


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
    ('[k8s.core.v1.Service(f"svc{i}", metadata={"name": f"s{i}", "namespace": ns.metadata["name"]}, '
     'spec={"clusterIP": "10.100.0.53", "ports": [{"port": 53}]}, opts=opts) for i in (1, 2)]',
     "spec.clusterIP: Invalid value: 10.100.0.53: provided IP is already allocated"),
    ('k8s.core.v1.Service("svc", metadata={"name": "s", "namespace": ns.metadata["name"]}, '
     'spec={"clusterIP": "10.200.0.10", "ports": [{"port": 53}]}, opts=opts)', "is not in the valid range"),
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


def test_cluster_ips_honour_requests_and_leave_the_static_band_to_them():
    """KEP-3070: dynamic clusterIPs come from above the first min(max(16, size/16), 256) addresses, which
    well-known Services (kube-dns on the 10th) request explicitly."""
    from offline.kube.api_server import KubeContext

    kube = KubeContext(version="1.35", service_cidr="10.100.0.0/16")

    def service(name, **spec):
        obj = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
               "spec": {"ports": [{"port": 53}], **spec}}
        return kube.create("kubernetes:core/v1:Service", obj)[1]["spec"]["clusterIP"]

    assert service("first") == "10.100.1.1"  # 10.100.0.1..10.100.1.0 is the static band of a /16
    assert service("dns", clusterIP="10.100.0.10") == "10.100.0.10"
    assert service("second") == "10.100.1.2"
    small = KubeContext(version="1.35", service_cidr="10.96.0.0/24")
    obj = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}, "spec": {"ports": [{"port": 1}]}}
    assert small.create("kubernetes:core/v1:Service", obj)[1]["spec"]["clusterIP"] == "10.96.0.17"  # band of 16
