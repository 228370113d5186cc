"""Cross-object security checks of a finished run (issue 13): what AWS and the API server accept but that
leaves the stack less safe than its settings say, or would fail once it runs.

- Every container image the program sets is pinned by digest (``images``).
- A container with a read-only root writes only where a writable volume is mounted: the files the images
  are known to write (``WRITES``) must lie under an emptyDir/hostPath/volume-claim mount that is not
  readOnly (node-cache renders its Corefile to its ``-conf`` path; kubectl keeps a discovery cache).
- The flannel podCIDR assigner: the admission policies in force allow exactly its own patch (the node's
  block, for its service account) and deny the same account changing anything else or setting another
  node's block; its RBAC names exactly the stack's nodes.
- The database's TLS, across the objects: mysqld refuses plaintext and serves a certificate that chains to
  the CA the webapp mounts, is valid now, is for server authentication and names the DB_HOST the webapp
  connects to (Python's ssl checks exactly that: chain, validity, host name against the SANs).
- VPC flow logs are delivered: the log group exists, the role trusts vpc-flow-logs.amazonaws.com (for
  this account) and may create streams in and put events to the group (else DeliverLogsStatus FAILED,
  "Access error": VPC user guide, flow log troubleshooting).
- Every container the stack runs is hardened: the runtime's default seccomp profile, no privilege or
  privilege escalation, a read-only root, every capability dropped but ``ALLOWED_CAPABILITIES``, CPU and
  memory limits, and no service-account token mounted by default (a token only where a step uses it).
- An ALB's access logs can be written: the Ingress names a bucket of the stack, encrypted with SSE-S3 (the
  only encryption ELB log delivery supports) whose policy lets the region's ELB account or the log-delivery
  service put objects under ``<prefix>/AWSLogs/<account>/`` (else the controller's
  ModifyLoadBalancerAttributes fails: "Access Denied for bucket").
"""

from __future__ import annotations

import datetime
import fnmatch
import json
from collections.abc import Iterable, Mapping

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID

from ..kube import admission
from .scan import kubernetes_objects
from .images import pod_specs, unpinned_images

# image repository (without registry) -> the paths a container of it writes, from its args
_WRITABLE_SOURCES = ("emptyDir", "hostPath", "persistentVolumeClaim", "ephemeral")


def _flag(args: list[str], name: str, default: str) -> str:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return default


WRITES = {
    # cmd/node-cache/main.go: -conf (CoreDNS's flag) overrides -corefile, default /etc/Corefile.
    "dns/k8s-dns-node-cache": lambda c: [_flag(c.get("args") or [], "-conf", "/etc/Corefile")],
    # kubectl's discovery cache: --cache-dir, default $HOME/.kube/cache (HOME is / for nobody here).
    "kubectl": lambda c: [_flag(c.get("args") or [], "--cache-dir", "/.kube/cache")],
}


def _repository(image: str) -> str:
    name = image.split("@", 1)[0].rsplit(":", 1)[0]
    return name.split("/", 1)[1] if "/" in name else name


def writable_path_problems(objects: Iterable[dict]) -> list[str]:
    problems = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        for spec in pod_specs(obj):
            volumes = {v["name"]: v for v in spec.get("volumes") or []}
            for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
                if not (c.get("securityContext") or {}).get("readOnlyRootFilesystem"):
                    continue
                writes = WRITES.get(_repository(c.get("image") or ""))
                for path in writes(c) if writes else []:
                    mounts = [m for m in c.get("volumeMounts") or []
                              if path == m["mountPath"] or path.startswith(m["mountPath"].rstrip("/") + "/")]
                    mount = max(mounts, key=lambda m: len(m["mountPath"]), default=None)
                    volume = volumes.get(mount["name"], {}) if mount else {}
                    if not mount or mount.get("readOnly") or not any(k in volume for k in _WRITABLE_SOURCES):
                        problems.append(f"{obj['kind']} {meta.get('namespace')}/{meta.get('name')} container "
                                        f"{c['name']}: writes {path} but its root filesystem is read-only and no "
                                        "writable volume is mounted there")
    return problems


# Capabilities a container of ours may add: node-cache's (NET_ADMIN for its iptables rules and its dummy
# interface, NET_BIND_SERVICE for port 53 as root without the rest of root's capabilities).
ALLOWED_CAPABILITIES = frozenset({"NET_ADMIN", "NET_BIND_SERVICE"})
_SECCOMP = ("RuntimeDefault", "Localhost")


def workload_hardening_problems(objects: Iterable[dict]) -> list[str]:
    """What a container's settings leave open that the stack promises closed (docs/security.md "Workloads";
    checkov CKV_K8S_8-43 on the same fields). hostNetwork is not judged here: node-local-dns and the podCIDR
    assigner need it (the checkov allow-list says why)."""
    problems = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        where = f"{obj.get('kind')} {meta.get('namespace', '')}/{meta.get('name', '')}".replace(" /", " ")
        for spec in pod_specs(obj):
            pod = spec.get("securityContext") or {}
            if spec.get("automountServiceAccountToken") is not False:
                problems.append(f"{where}: every container gets a service-account token (automountServiceAccountToken "
                                "is not false); project one into the step that uses it")
            problems += [f"{where}: {flag} shares the node's process namespace" for flag in ("hostPID", "hostIPC")
                         if spec.get(flag)]
            for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
                sc = c.get("securityContext") or {}
                caps = sc.get("capabilities") or {}
                seccomp = (sc.get("seccompProfile") or pod.get("seccompProfile") or {}).get("type")
                limits = (c.get("resources") or {}).get("limits") or {}
                found = [
                    f"seccomp profile {seccomp or 'Unconfined'} (want RuntimeDefault)"
                    if seccomp not in _SECCOMP else "",
                    "privileged" if sc.get("privileged") else "",
                    "allowPrivilegeEscalation is not false" if sc.get("allowPrivilegeEscalation") is not False else "",
                    "a writable root filesystem" if sc.get("readOnlyRootFilesystem") is not True else "",
                    "capabilities not dropped (drop: [ALL])" if "ALL" not in (caps.get("drop") or []) else "",
                    f"adds capabilities {sorted(set(caps.get('add') or []) - ALLOWED_CAPABILITIES)}"
                    if set(caps.get("add") or []) - ALLOWED_CAPABILITIES else "",
                    f"no {' or '.join(sorted({'cpu', 'memory'} - set(limits)))} limit"
                    if {"cpu", "memory"} - set(limits) else "",
                ]
                if any(found):
                    problems.append(f"{where} container {c.get('name')}: {', '.join(f for f in found if f)}")
    return problems


ASSIGNER_LABEL = ("app.kubernetes.io/name", "podcidr-assigner")


def _assigners(objects: list[dict]) -> Iterable[tuple[dict, dict, str, dict]]:
    """(DaemonSet, its pod spec, its node's config name, its merge patch) of each podCIDR assigner."""
    for obj in objects:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if obj.get("kind") != "DaemonSet" or labels.get(ASSIGNER_LABEL[0]) != ASSIGNER_LABEL[1]:
            continue
        pod = obj["spec"]["template"]["spec"]
        args = next(c["args"] for c in pod.get("initContainers") or [] if (c.get("args") or [])[:2] == ["patch", "node"])
        yield obj, pod, labels.get("k8snet.io/node", ""), json.loads(_flag(args, "--patch", "{}"))


def assigner_problems(objects: list[dict], node_names: dict[str, str]) -> list[str]:
    """``node_names``: node config name -> its Kubernetes name (the instances' private DNS names)."""
    bindings = {o["spec"]["policyName"]: o["spec"].get("validationActions") or []
                for o in objects if o.get("kind") == "ValidatingAdmissionPolicyBinding"}
    policies = [(o, bindings[o["metadata"]["name"]]) for o in objects
                if o.get("kind") == "ValidatingAdmissionPolicy" and o["metadata"]["name"] in bindings]
    problems = []
    for ds, pod, node, patch in _assigners(objects):
        user = f"system:serviceaccount:{ds['metadata']['namespace']}:{pod.get('serviceAccountName', 'default')}"
        old = {"apiVersion": "v1", "kind": "Node",
               "metadata": {"name": node_names.get(node, f"{node}.internal"),
                            "labels": {"k8snet.io/node": node, "kubernetes.io/os": "linux"}},
               "spec": {"providerID": "aws:///us-east-1a/i-0", "taints": [
                   {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]}}

        def verdict(new: dict) -> list[str] | None:
            results = [admission.denials(p, actions, admission.Request(user, "UPDATE", "", "v1", "nodes", old, new))
                       for p, actions in policies]
            applied = [r for r in results if r is not None]
            return None if not applied else [m for r in applied for m in r]

        where = f"DaemonSet {ds['metadata']['namespace']}/{ds['metadata']['name']}"
        own = admission.merge_patch(old, patch)
        denied = verdict(own)
        if denied is None:
            problems.append(f"{where}: no ValidatingAdmissionPolicy in force restricts what {user} may change on a Node")
            continue
        if denied:
            problems.append(f"{where}: the admission policy denies the assigner's own patch: {'; '.join(denied)}")
        for what, change in (("a label", {"metadata": {"labels": {"k8snet.io/node": "other"}}}),
                             ("the taints", {"spec": {"taints": None}}),
                             ("another node's block", {"spec": {"podCIDR": "203.0.113.0/24",
                                                                "podCIDRs": ["203.0.113.0/24"]}})):
            if not verdict(admission.merge_patch(own, change)):
                problems.append(f"{where}: the admission policy lets {user} change {what} of a Node")

    roles = {o["metadata"]["name"]: o for o in objects if o.get("kind") == "ClusterRole"}
    users = {f"system:serviceaccount:{ds['metadata']['namespace']}:{pod.get('serviceAccountName')}"
             for ds, pod, _, _ in _assigners(objects)}
    for binding in (o for o in objects if o.get("kind") == "ClusterRoleBinding"):
        subjects = {f"system:serviceaccount:{s.get('namespace')}:{s['name']}" for s in binding.get("subjects") or []
                    if s.get("kind") == "ServiceAccount"}
        role = roles.get(binding["roleRef"]["name"])
        if not (subjects & users) or role is None:
            continue
        for rule in role.get("rules") or []:
            if "nodes" in (rule.get("resources") or []) and "patch" in (rule.get("verbs") or []):
                names = sorted(rule.get("resourceNames") or [])
                if names != sorted(node_names.values()):
                    problems.append(f"ClusterRole {role['metadata']['name']}: the podCIDR assigner may patch Nodes "
                                    f"{names or 'all'}, not exactly the stack's nodes {sorted(node_names.values())}")
    return problems


def _mounted_file(spec: dict, container: dict, path: str, objects: list[dict], namespace: str) -> str | None:
    """The content of ``path`` in ``container``: a Secret/ConfigMap key mounted there (None if unknown)."""
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    for mount in container.get("volumeMounts") or []:
        prefix = mount["mountPath"].rstrip("/") + "/"
        if not path.startswith(prefix):
            continue
        volume, rel = volumes.get(mount["name"], {}), path[len(prefix):]
        for kind, ref, field in (("Secret", "secret", "secretName"), ("ConfigMap", "configMap", "name")):
            if ref not in volume:
                continue
            items = {i["path"]: i["key"] for i in volume[ref].get("items") or []}
            key = items.get(rel, rel if not items else None)
            for obj in objects:
                meta = obj.get("metadata") or {}
                if obj.get("kind") == kind and meta.get("name") == volume[ref][field] \
                        and meta.get("namespace") == namespace:
                    return {**(obj.get("data") or {}), **(obj.get("stringData") or {})}.get(key)
    return None


def database_tls_problems(objects: list[dict], now: datetime.datetime | None = None) -> list[str]:
    now = now or datetime.datetime.now(datetime.timezone.utc)
    servers = []  # (namespace, certificate PEM, requires TLS)
    for obj in objects:
        ns = (obj.get("metadata") or {}).get("namespace")
        for spec in pod_specs(obj):
            for c in spec.get("containers") or []:
                args = c.get("args") or []
                cert_path = _flag(args, "--ssl-cert", "")
                if cert_path:
                    servers.append((ns, _mounted_file(spec, c, cert_path, objects, ns),
                                    "--require-secure-transport=ON" in args))
    problems = []
    for obj in objects:
        ns, name = (obj.get("metadata") or {}).get("namespace"), (obj.get("metadata") or {}).get("name")
        for spec in pod_specs(obj):
            for c in spec.get("containers") or []:
                env = {e["name"]: e.get("value") for e in c.get("env") or []}
                if "DB_CA_FILE" not in env:
                    continue
                where = f"{obj['kind']} {ns}/{name} container {c['name']}"
                ca_pem = _mounted_file(spec, c, env["DB_CA_FILE"], objects, ns)
                for server_ns, cert_pem, required in servers:
                    if server_ns != ns:
                        continue
                    if not required:
                        problems.append(f"{where}: mysqld in {ns} accepts plaintext (--require-secure-transport=ON)")
                    if not ca_pem or not cert_pem:
                        problems.append(f"{where}: the CA file or the server certificate is not a mounted Secret key")
                        continue
                    problems += [f"{where}: {p}" for p in _certificate_problems(ca_pem, cert_pem, env.get("DB_HOST"),
                                                                                  now)]
    return problems


def _certificate_problems(ca_pem: str, cert_pem: str, host: str | None, now: datetime.datetime) -> list[str]:
    ca = x509.load_pem_x509_certificate(ca_pem.encode())
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    problems = []
    try:
        constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
        usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
        if not constraints.ca or not usage.key_cert_sign:
            problems.append("the CA certificate is not a CA (basicConstraints ca, keyUsage keyCertSign)")
    except x509.ExtensionNotFound:
        problems.append("the CA certificate has no basicConstraints/keyUsage extensions")
    try:
        cert.verify_directly_issued_by(ca)
    except (InvalidSignature, ValueError, TypeError) as exc:  # wrong key, or not the issuer's name
        problems.append(f"the server certificate does not chain to the CA the client trusts ({type(exc).__name__})")
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        problems.append("the server certificate is not valid now")
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName)
    except x509.ExtensionNotFound:
        sans = []
    if host not in sans:
        problems.append(f"the server certificate names {sans}, not DB_HOST {host!r} (hostname check fails)")
    try:
        if ExtendedKeyUsageOID.SERVER_AUTH not in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value:
            problems.append("the server certificate is not for server authentication (extendedKeyUsage)")
    except x509.ExtensionNotFound:
        pass  # no EKU: any use
    return problems


def _statements(document) -> list[dict]:
    doc = json.loads(document) if isinstance(document, str) else document
    statements = doc.get("Statement") or []
    return statements if isinstance(statements, list) else [statements]


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def _grants(statements: list[dict], action: str, resource: str, principal: str | None = None) -> bool:
    """An Allow statement covers ``action`` on ``resource`` (for ``principal``: AWS or Service), no Deny does."""
    def covers(st):
        if principal is not None:
            p = st.get("Principal") or {}
            names = [] if not isinstance(p, dict) else [*_listed(p.get("AWS", [])), *_listed(p.get("Service", []))]
            if p != "*" and principal not in names:
                return False
        return (any(fnmatch.fnmatchcase(action, a) for a in _listed(st.get("Action")))
                and any(fnmatch.fnmatchcase(resource, r) for r in _listed(st.get("Resource"))))
    allowed = any(covers(st) and st.get("Effect") == "Allow" and not st.get("Condition") for st in statements)
    return allowed and not any(covers(st) and st.get("Effect") == "Deny" and not st.get("Condition")
                               for st in statements)


def flow_log_delivery_problems(where: str, role_name: str, trust_document, role_policies: Iterable,
                               log_group_arn: str, account: str) -> list[str]:
    """What keeps a flow log's delivery role from writing to its group: a trust that does not let
    vpc-flow-logs.amazonaws.com assume it for ``account``, or policies that do not grant the writes."""
    problems = []
    trust = [st for st in _statements(trust_document) if st.get("Effect") == "Allow"
             and "vpc-flow-logs.amazonaws.com" in _listed((st.get("Principal") or {}).get("Service", []))
             and "sts:AssumeRole" in _listed(st.get("Action"))]
    source = [c.get("StringEquals", {}).get("aws:SourceAccount") for c in (st.get("Condition") for st in trust) if c]
    if not trust or any(a not in (None, account) for a in source):
        problems.append(f"{where}: role {role_name} does not let vpc-flow-logs.amazonaws.com assume it for "
                        f"account {account}")
    statements = [st for document in role_policies for st in _statements(document)]
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        if not _grants(statements, action, f"{log_group_arn}:log-stream:eni-0"):
            problems.append(f"{where}: role {role_name} may not {action} in {log_group_arn}")
    return problems


def flow_log_problems(records, engine) -> list[str]:
    """Read from moto's backends directly (a boto3 client would load its service model: ~0.5 s)."""
    problems = []
    engine.activate()  # the backends below are this engine's (another run's may be live)
    aws = engine.aws
    iam = aws.iam
    for r in records:
        if r.type != "aws:ec2/flowLog:FlowLog":
            continue
        (described,) = aws.ec2.describe_flow_logs([r.id])
        where = f"flow log {r.name}"
        if described.deliver_logs_status != "SUCCESS":
            problems.append(f"{where}: delivery {described.deliver_logs_status} "
                            f"({described.deliver_logs_error_message}): the log group does not exist")
        role_name = (r.inputs.get("iamRoleArn") or "").rsplit("/", 1)[-1]
        role = iam.get_role(role_name)
        problems += flow_log_delivery_problems(where, role_name, role.assume_role_policy_document,
                                               role.policies.values(), r.inputs.get("logDestination", ""),
                                               aws.account_id)
    return problems


def access_log_problems(objects: list[dict], engine) -> list[str]:
    """``access_log_bucket_problems`` against the engine's S3 buckets."""
    return access_log_bucket_problems(objects, engine.aws.s3_config, engine.aws.account_id, engine.aws.partition,
                                      engine.region)


def access_log_bucket_problems(objects: list[dict], buckets: Mapping[str, Mapping], account: str, partition: str,
                               region: str) -> list[str]:
    """``buckets``: bucket name -> its configurations as S3 holds them (``encryption``, ``policy``: the inputs
    of BucketServerSideEncryptionConfiguration and BucketPolicy)."""
    problems = []
    from ..aws.elb_accounts import ELB_ACCOUNTS  # the account the region's ELB writes as (engine's table)
    writers = [f"arn:{partition}:iam::{ELB_ACCOUNTS[region]}:root"] if region in ELB_ACCOUNTS else []
    writers.append("logdelivery.elasticloadbalancing.amazonaws.com")
    for obj in objects:
        if obj.get("kind") != "Ingress":
            continue
        annotation = ((obj.get("metadata") or {}).get("annotations") or {}).get(
            "alb.ingress.kubernetes.io/load-balancer-attributes", "")
        attrs = dict(kv.split("=", 1) for kv in annotation.split(",") if "=" in kv)
        where = f"Ingress {obj['metadata'].get('namespace')}/{obj['metadata']['name']}"
        if attrs.get("routing.http.drop_invalid_header_fields.enabled") != "true":
            problems.append(f"{where}: the ALB forwards HTTP headers with invalid names "
                            "(routing.http.drop_invalid_header_fields.enabled is not true)")
        if attrs.get("access_logs.s3.enabled") != "true":
            continue
        bucket, prefix = attrs.get("access_logs.s3.bucket", ""), attrs.get("access_logs.s3.prefix", "")
        config = buckets.get(bucket)
        if config is None:
            problems.append(f"{where}: access logs go to bucket {bucket!r}, which the stack does not create")
            continue
        rules = ((config.get("encryption") or {}).get("rules") or [{}])
        algorithm = ((rules[0].get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm"))
        if algorithm != "AES256":
            problems.append(f"{where}: bucket {bucket} is encrypted with {algorithm!r}; ELB log delivery supports "
                            "SSE-S3 (AES256) only")
        statements = _statements((config.get("policy") or {}).get("policy") or "{}")
        key = (f"arn:{partition}:s3:::{bucket}/{prefix + '/' if prefix else ''}AWSLogs/{account}/"
               "elasticloadbalancing/x.log.gz")
        if not any(_grants(statements, "s3:PutObject", key, w) for w in writers):
            problems.append(f"{where}: bucket {bucket}'s policy does not let Elastic Load Balancing "
                            f"({' or '.join(writers)}) put objects under {prefix}/AWSLogs/{account}/")
    return problems


def _node_names(records) -> dict[str, str]:
    """node config name -> Kubernetes node name, from the instances the run created (tag k8snet/node)."""
    out = {}
    for r in records:
        if r.type == "aws:ec2/instance:Instance":
            node = ((r.inputs.get("tags") or {}).get("k8snet/node"))
            if node:
                out[node] = r.outputs.get("privateDns", "")
    return out


def check_run(result, engine) -> list[str]:
    records = list(result.records.values())
    objects = kubernetes_objects(records)
    return (unpinned_images(objects) + workload_hardening_problems(objects) + writable_path_problems(objects)
            + assigner_problems(objects, _node_names(records)) + database_tls_problems(objects)
            + flow_log_problems(records, engine) + access_log_problems(objects, engine))
