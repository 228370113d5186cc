"""Workload hardening (issue 13 items 5-7): image digests, read-only roots that still work, the podCIDR
assigner's least privilege, the database's TLS across objects, and the engine's models behind them."""

from __future__ import annotations

import copy
import functools
import importlib.util
import json
from ipaddress import ip_network

import pytest

from k8snet.app import manifests as m
from k8snet.cni import pod_cidr_assigner as assigner
from k8snet.dns import node_local_dns_manifests as nld
from k8snet.shared import images
from offline.checks import scan
from offline import tls as tls_provider
from offline.checks import security
from offline.checks.images import unpinned_images
from offline.kube.api_server import KubeContext, KubeRejection
from tests.conftest import ROOT

BLOCKS = {"node1": ip_network("10.1.1.0/24"), "node2": ip_network("10.1.2.0/24")}
NAMES = {"node1": "ip-192-168-1-4.ec2.internal", "node2": "ip-192-168-2-4.ec2.internal"}


def _pod(image: str) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x", "namespace": "n"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}}


# --- item 5: digests ---------------------------------------------------------------------------------

def test_a_tag_only_image_is_refused_and_a_digest_pinned_one_is_not():
    assert unpinned_images([_pod("docker.io/library/nginx:1.30.4")])
    assert unpinned_images([_pod("nginx@sha256:" + "a" * 64)])  # no tag: nobody can tell what it is
    assert unpinned_images([_pod(images.NGINX.replace("sha256:", "sha256:x"))])
    assert unpinned_images([_pod(images.NGINX)]) == []


def test_every_container_of_every_object_the_runs_register_is_pinned(variant_records):
    for label, records in variant_records.items():
        objects = scan.kubernetes_objects(records)
        assert sum(len(list(security.pod_specs(o))) for o in objects) >= 2, label
        assert unpinned_images(objects) == [], label


def _refresh_script():
    spec = importlib.util.spec_from_file_location("refresh_digests", ROOT / "scripts" / "refresh_digests.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_refresh_script_finds_every_pinned_image_and_replaces_only_a_digest():
    """Its pure parts only: the script itself asks the registries and never runs in the tests."""
    script = _refresh_script()
    text = script.IMAGES_FILE.read_text()
    found = script.pinned_images(text)
    assert sorted(f"{i['ref']}@{i['digest']}" for i in found) == sorted(images.ALL)
    ref = "registry.k8s.io/pause:3.10.1"
    new = script.replace_digest(text, ref, "sha256:" + "0" * 64)
    assert f'"{ref}@sha256:{"0" * 64}"' in new and new.count("sha256:" + "0" * 64) == 1
    with pytest.raises(KeyError):
        script.replace_digest(text, "registry.k8s.io/pause:9.9", "sha256:" + "0" * 64)


# --- item 6: read-only roots that still work --------------------------------------------------------

def _node_local_dns(conf: str | None = None) -> dict:
    ds = nld.daemonset(("169.254.20.10",))
    if conf is not None:
        c = ds["spec"]["template"]["spec"]["containers"][0]
        c["args"][c["args"].index("-conf") + 1] = conf
    return {"apiVersion": "apps/v1", **ds}


def test_node_cache_renders_its_corefile_onto_a_writable_volume():
    assert security.writable_path_problems([_node_local_dns()]) == []
    # The old -conf /etc/Corefile under a read-only root: node-cache could not write its Corefile.
    (problem,) = security.writable_path_problems([_node_local_dns("/etc/Corefile")])
    assert "writes /etc/Corefile" in problem
    # Onto the read-only ConfigMap mount: same failure.
    assert security.writable_path_problems([_node_local_dns("/etc/coredns/Corefile")])


def test_kubectl_keeps_its_cache_on_a_writable_volume():
    ds = {"apiVersion": "apps/v1", **assigner.daemonset("node1", BLOCKS["node1"], "kube-flannel")}
    assert security.writable_path_problems([ds]) == []
    init = ds["spec"]["template"]["spec"]["initContainers"][0]
    init["args"] = [a for a in init["args"] if not a.startswith("--cache-dir")]
    assert security.writable_path_problems([ds])


# --- item 6: every container hardened -----------------------------------------------------------------

def test_every_container_of_the_runs_is_hardened(variant_records):
    for label, records in variant_records.items():
        assert security.workload_hardening_problems(scan.kubernetes_objects(records)) == [], label


@pytest.mark.parametrize("change, found", [
    (lambda pod, c: c["securityContext"].pop("allowPrivilegeEscalation"), "allowPrivilegeEscalation is not false"),
    (lambda pod, c: c["securityContext"].update(readOnlyRootFilesystem=False), "a writable root filesystem"),
    (lambda pod, c: c["securityContext"]["capabilities"].update(add=["NET_ADMIN", "SYS_ADMIN"]),
     "adds capabilities ['SYS_ADMIN']"),
    (lambda pod, c: c["securityContext"]["capabilities"].update(drop=[]), "capabilities not dropped"),
    (lambda pod, c: c["securityContext"].update(privileged=True), "privileged"),
    (lambda pod, c: c["resources"]["limits"].pop("memory"), "no memory limit"),
    (lambda pod, c: pod["securityContext"].pop("seccompProfile"), "seccomp profile Unconfined"),
    (lambda pod, c: pod.update(automountServiceAccountToken=True), "every container gets a service-account token"),
    (lambda pod, c: pod.update(hostPID=True), "hostPID shares the node's process namespace"),
])
def test_a_container_that_loses_its_hardening_is_found(change, found):
    ds = copy.deepcopy(_node_local_dns())  # the manifests share their securityContext dicts
    pod = ds["spec"]["template"]["spec"]
    assert security.workload_hardening_problems([ds]) == []
    change(pod, pod["containers"][0])
    (problem,) = security.workload_hardening_problems([ds])
    assert problem.startswith("DaemonSet kube-system/node-local-dns") and found in problem


# --- item 6: the podCIDR assigner's least privilege ---------------------------------------------------

def _assigner_objects(policy: dict | None = None, names: list | None = None) -> list[dict]:
    rbac = assigner.rbac("kube-flannel", list(NAMES.values()) if names is None else names)
    objects = [{"apiVersion": "apps/v1", **assigner.daemonset(n, b, "kube-flannel")} for n, b in BLOCKS.items()]
    objects += [rbac["ClusterRole"], rbac["ClusterRoleBinding"], assigner.admission_binding()]
    return objects + [policy or assigner.admission_policy("kube-flannel", BLOCKS)]


def test_the_assigner_may_set_only_its_nodes_block():
    assert security.assigner_problems(_assigner_objects(), NAMES) == []


def test_a_missing_or_loosened_admission_policy_is_caught():
    objects = [o for o in _assigner_objects() if o["kind"] != "ValidatingAdmissionPolicy"]
    assert any("no ValidatingAdmissionPolicy" in p for p in security.assigner_problems(objects, NAMES))
    loose = assigner.admission_policy("kube-flannel", BLOCKS)
    del loose["spec"]["validations"][0]  # only the block rule left: labels and taints would be writable
    problems = security.assigner_problems(_assigner_objects(loose), NAMES)
    assert any("change a label" in p for p in problems) and any("change the taints" in p for p in problems)
    wrong = assigner.admission_policy("kube-flannel", {"node1": BLOCKS["node2"], "node2": BLOCKS["node1"]})
    assert any("denies the assigner's own patch" in p for p in security.assigner_problems(_assigner_objects(wrong), NAMES))


def test_the_assigners_rbac_names_exactly_the_stacks_nodes():
    problems = security.assigner_problems(_assigner_objects(names=[]), NAMES)
    assert any("may patch Nodes all" in p for p in problems)
    assert security.assigner_problems(_assigner_objects(names=["ip-10-0-0-1.ec2.internal"]), NAMES)


def test_the_api_server_refuses_a_policy_whose_cel_does_not_compile():
    policy = assigner.admission_policy("kube-flannel", BLOCKS)
    KubeContext().create("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy", copy.deepcopy(policy))
    policy["metadata"]["name"] = "broken"
    policy["spec"]["validations"][1]["expression"] += " &&"
    with pytest.raises(KubeRejection, match="compilation failed"):
        KubeContext().create("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy", policy)


def test_the_assigner_gets_a_token_in_its_patch_step_only():
    pod = assigner.daemonset("node1", BLOCKS["node1"], "kube-flannel")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    (init,), (pause,) = pod["initContainers"], pod["containers"]
    assert [v["mountPath"] for v in init["volumeMounts"] if v["name"] == "kube-api-access"] == [assigner.TOKEN_DIR]
    assert "volumeMounts" not in pause
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for c in (init, pause):
        assert c["securityContext"]["readOnlyRootFilesystem"] and c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert set(c["resources"]["limits"]) == {"cpu", "memory"}


# --- item 7: the database's TLS across objects ---------------------------------------------------------

@functools.cache
def _key(role: str) -> str:
    """One 2048-bit RSA key per role (~50 ms each to generate): "ca", "other-ca" (a second CA's), "server"."""
    return tls_provider.private_key(None, role, {"algorithm": "RSA", "rsaBits": 2048})[1]["privateKeyPem"]


def _ca(key: str, is_ca: bool = True) -> str:
    return tls_provider.self_signed_cert(None, "ca", {
        "privateKeyPem": key, "isCaCertificate": is_ca, "validityPeriodHours": 24, "subject": {"commonName": "ca"},
        "allowedUses": ["cert_signing", "digital_signature"]})[1]["certPem"]


def _server(ca_key: str, ca_cert: str, names: list[str]) -> tuple[str, str]:
    key = _key("server")
    csr = tls_provider.cert_request(None, "r", {"privateKeyPem": key, "dnsNames": names,
                                                "subject": {"commonName": names[0]}})[1]["certRequestPem"]
    cert = tls_provider.locally_signed_cert(None, "s", {
        "certRequestPem": csr, "caCertPem": ca_cert, "caPrivateKeyPem": ca_key, "validityPeriodHours": 24,
        "allowedUses": ["server_auth", "digital_signature", "key_encipherment"]})[1]["certPem"]
    return cert, key


def _app_objects(ca_cert: str, cert: str, key: str) -> list[dict]:
    return m.all_objects(m.AppSettings(), tls=(ca_cert, cert, key, "x"))


def test_the_webapp_verifies_the_certificate_mysqld_serves():
    settings = m.AppSettings()
    ca_key = _key("ca")
    ca_cert = _ca(ca_key)
    cert, key = _server(ca_key, ca_cert, settings.mysql_tls_names)
    assert security.database_tls_problems(_app_objects(ca_cert, cert, key)) == []


def test_tls_mistakes_that_would_break_the_webapps_connection_are_caught():
    settings = m.AppSettings()
    ca_key, other_key = _key("ca"), _key("other-ca")
    ca_cert, other_ca = _ca(ca_key), _ca(other_key)
    cert, key = _server(other_key, other_ca, settings.mysql_tls_names)  # signed by another CA
    assert any("does not chain" in p for p in security.database_tls_problems(_app_objects(ca_cert, cert, key)))
    cert, key = _server(ca_key, ca_cert, ["mysql.elsewhere.svc"])  # the wrong names
    assert any("not DB_HOST" in p for p in security.database_tls_problems(_app_objects(ca_cert, cert, key)))
    not_a_ca = _ca(ca_key, is_ca=False)
    assert any("is not a CA" in p for p in security.database_tls_problems(_app_objects(not_a_ca, cert, key)))
    cert, key = _server(ca_key, ca_cert, settings.mysql_tls_names)
    objects = _app_objects(ca_cert, cert, key)
    sts = next(o for o in objects if o["kind"] == "StatefulSet")
    mysqld = sts["spec"]["template"]["spec"]["containers"][0]
    mysqld["args"].remove("--require-secure-transport=ON")
    assert any("accepts plaintext" in p for p in security.database_tls_problems(objects))


def test_the_tls_model_generates_what_the_provider_would():
    from cryptography import x509

    _, ec_key = tls_provider.private_key(None, "k", {"algorithm": "ECDSA"})
    assert "BEGIN EC PRIVATE KEY" in ec_key["privateKeyPem"] and ec_key["ecdsaCurve"] == "P224"  # its default
    assert "BEGIN RSA PRIVATE KEY" in _key("ca")  # PKCS#1, as the provider writes RSA keys
    with pytest.raises(tls_provider.TlsRejection, match="algorithm"):
        tls_provider.private_key(None, "k", {"algorithm": "DSA"})
    with pytest.raises(tls_provider.TlsRejection, match="allowed_uses"):
        tls_provider.self_signed_cert(None, "c", {"privateKeyPem": _key("ca"), "validityPeriodHours": 1,
                                                  "allowedUses": ["server_auth", "web_serving"]})
    ca_key = _key("ca")
    ca_cert = x509.load_pem_x509_certificate(_ca(ca_key).encode())
    assert ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_the_program_generates_the_database_tls_it_mounts(variant_records):
    objects = scan.kubernetes_objects(variant_records["dev"])
    assert security.database_tls_problems(objects) == []
    (secret,) = [o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"] == m.TLS_SECRET]
    assert secret["type"] == "kubernetes.io/tls" and set(secret["stringData"]) == {"tls.crt", "tls.key", "ca.crt"}
    webapp = next(o for o in objects if o["kind"] == "Deployment")
    (volume,) = [v for v in webapp["spec"]["template"]["spec"]["volumes"] if v["name"] == "db-ca"]
    assert volume["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]  # never the key
    types = {r.type for r in variant_records["dev"] if r.type.startswith("tls:")}
    assert types == set(tls_provider.HANDLERS)
    json.dumps(secret)  # plain data, as the API server holds it
