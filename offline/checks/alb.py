"""Cross-object checks of the AWS Load Balancer Controller, its Ingresses and NLB Services: what the
API server accepts but the controller (v3.5.0) would refuse, or what would not carry traffic.

- The release: values the chart reads (offline/charts/aws-load-balancer-controller-3.5.0.yaml), the
  pass-through values against their Kubernetes definitions, cluster name / VPC as AWS has them, and an
  IRSA role whose trust names exactly the chart's service account.
- Ingresses of an ``ingress.k8s.aws/alb`` class: annotation names and values the controller parses,
  listeners (HTTPS needs a certificate, ssl-redirect an HTTPS port), Prefix paths without wildcards,
  backends that resolve to a Service port with a nodePort (instance targets), subnets discovered in two
  zones for the scheme, and NetworkPolicies that admit what the ALB sends (a node's address after
  kube-proxy's SNAT) on the pods' target port.
- NLB Services (loadBalancerClass service.k8s.aws/nlb): annotation names and values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from k8snet.ingress import lb_controller
from k8snet.shared import tags
from k8snet.app.manifests import NLB_CLASS
from k8snet.app.policy_eval import Endpoint, allowed

from ..harness.dependencies import closure
from ..kube.api_server import _whole_numbers, is_api_object
from . import chart_facts, routes
from .app import policies, selected_pods
from .cni import RELEASE

FACTS_NAME = f"{lb_controller.CHART}-{lb_controller.CHART_VERSION}"
_BOOL = ("true", "false")


def facts() -> dict:
    return chart_facts.load(FACTS_NAME)


# --- annotations -------------------------------------------------------------------------------

def _value_problem(rule, value: str) -> str | None:
    """None when ``value`` parses as the controller parses that annotation's type."""
    if isinstance(rule, dict) and "enum" in rule:
        return None if value in rule["enum"] else f"must be one of {', '.join(rule['enum'])}"
    if isinstance(rule, dict) and "integerOr" in rule:
        return None if value in rule["integerOr"] or re.fullmatch(r"\d+", value) else \
            f"must be an integer or {', '.join(rule['integerOr'])}"
    if rule == "integer":
        return None if re.fullmatch(r"-?\d+", value) else "must be an integer"
    if rule == "boolean":
        return None if value in _BOOL else "must be true or false"
    if rule == "json":
        try:
            json.loads(value)
        except json.JSONDecodeError as exc:
            return f"is not JSON ({exc.msg})"
        return None
    if rule == "stringMap":
        pairs = [p.strip() for p in value.split(",") if p.strip()]
        return None if pairs and all("=" in p and p.split("=", 1)[0] for p in pairs) else "must be k1=v1,k2=v2"
    if rule == "stringList":
        return None if any(p.strip() for p in value.split(",")) else "must be a comma-separated list"
    return None if value != "" else "must not be empty"  # string


def annotation_problems(annotations: Mapping[str, str], section: str, who: str) -> list[str]:
    """Annotations under the section's prefix that the controller does not know or cannot parse."""
    spec = facts()[section]
    prefix, names, patterns = spec["prefix"], spec["names"], spec.get("patterns") or {}
    problems = []
    for key, value in sorted((annotations or {}).items()):
        if not key.startswith(prefix):
            continue
        suffix = key[len(prefix):]
        rule = names.get(suffix)
        if rule is None:
            rule = next((r for pat, r in patterns.items() if re.fullmatch(re.escape(pat).replace(r"\*", ".+"), suffix)),
                        None)
        if rule is None:
            problems.append(f"{who}: annotation {key} is not one controller v{lb_controller.CHART_VERSION} reads")
            continue
        why = _value_problem(rule, str(value))
        if why:
            problems.append(f"{who}: annotation {key}={value!r} {why}")
    return problems


@dataclass
class AwsView:
    """What the checks read from the simulated AWS. EKS and IAM come straight from moto's backends:
    a boto3 client would make moto load each service's API model (~0.15 s apiece) for one call."""

    ec2: Any  # a boto3 EC2 client
    region: str = "us-east-1"
    account_id: str = ""  # moto's default account

    def __post_init__(self):
        # moto is imported here, not at module level: the policy pack imports this module without it.
        from moto.core import DEFAULT_ACCOUNT_ID

        self.account_id = self.account_id or DEFAULT_ACCOUNT_ID

    def cluster_names(self) -> set[str]:
        from moto.eks.models import eks_backends

        return set(eks_backends[self.account_id][self.region].clusters)

    def vpc_ids(self) -> set[str]:
        return {v["VpcId"] for v in self.ec2.describe_vpcs()["Vpcs"]}

    def role_trust(self, role_name: str) -> dict | None:
        from moto.iam.models import iam_backends
        from moto.utilities.utils import get_partition

        roles = iam_backends[self.account_id][get_partition(self.region)].roles.values()
        role = next((r for r in roles if r.name == role_name), None)
        return json.loads(role.assume_role_policy_document) if role else None


# --- the release ---------------------------------------------------------------------------------

def controller_releases(records: Iterable) -> list[dict]:
    return [_whole_numbers(r.inputs) for r in records if r.type == RELEASE
            and r.inputs.get("chart") == lb_controller.CHART]


def release_problems(records: Iterable, kube_schemas, aws: AwsView) -> list[str]:
    problems = []
    f = facts()
    known, passthrough = set(f["valuesKeys"]), f["passThrough"]
    for rel in controller_releases(records):
        who = f"helm release {rel.get('name')}"
        if rel.get("version") != f["version"] or (rel.get("repositoryOpts") or {}).get("repo") != f["repo"]:
            problems.append(f"{who}: chart {rel.get('version')} from {rel.get('repositoryOpts')} is not the pinned "
                            f"{f['version']} from {f['repo']}")
        values = rel.get("values") or {}
        for path in chart_facts.key_paths(values):
            if any(path.startswith(p + ".") for p in passthrough):
                continue
            if path not in known:
                problems.append(f"{who}: value {path} does not exist in chart {f['version']} (Helm would ignore it)")
        for path, definition in passthrough.items():
            value = _get(values, path)
            if value is None:
                continue
            if definition == "map":
                if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                    problems.append(f"{who}: value {path} must be a map of strings")
            else:
                problems += [f"{who}: value {path}.{e}" for e in kube_schemas.definition_errors(definition, value)]
        clusters = aws.cluster_names()
        if values.get("clusterName") not in clusters:
            problems.append(f"{who}: clusterName {values.get('clusterName')!r} is no EKS cluster ({sorted(clusters)})")
        if values.get("vpcId") not in aws.vpc_ids():
            problems.append(f"{who}: vpcId {values.get('vpcId')!r} is no VPC of the account")
        problems += _irsa_problems(who, rel, values, aws)
    return problems


def _get(values: Mapping, path: str):
    return chart_facts.value_at(values, path)


def _irsa_problems(who: str, rel: Mapping, values: Mapping, aws: AwsView) -> list[str]:
    sa = values.get("serviceAccount") or {}
    arn = (sa.get("annotations") or {}).get(lb_controller.IRSA_ROLE_ANNOTATION)
    if not arn:
        return [f"{who}: serviceAccount.annotations has no {lb_controller.IRSA_ROLE_ANNOTATION} (the controller "
                "would fall back to the node's role, which must not hold load balancer permissions)"]
    trust = aws.role_trust(arn.rsplit("/", 1)[-1])
    if trust is None:
        return [f"{who}: IRSA role {arn} does not exist"]
    expected = f"system:serviceaccount:{rel.get('namespace')}:{sa.get('name')}"
    equals = [(k.rsplit(":", 1)[-1], v) for st in trust.get("Statement", [])
              for k, v in ((st.get("Condition") or {}).get("StringEquals") or {}).items()]
    subs, auds = ({v for k, v in equals if k == key} for key in ("sub", "aud"))
    problems = []
    if subs != {expected}:
        problems.append(f"{who}: IRSA role trusts {sorted(subs)}, not the chart's service account {expected}")
    if auds != {"sts.amazonaws.com"}:
        problems.append(f"{who}: IRSA role's audience is {sorted(auds)}, not sts.amazonaws.com")
    return problems


# --- ingresses -----------------------------------------------------------------------------------

def _of_kind(objects: Iterable[Mapping], kind: str) -> list[Mapping]:
    return [o for o in objects if o["kind"] == kind]


def alb_ingresses(objects: Iterable[Mapping]) -> list[Mapping]:
    objects = list(objects)
    classes = {c["metadata"]["name"] for c in _of_kind(objects, "IngressClass")
               if (c.get("spec") or {}).get("controller") == facts()["ingressClassController"]}
    return [i for i in _of_kind(objects, "Ingress") if (i.get("spec") or {}).get("ingressClassName") in classes]


def listeners(ingress: Mapping) -> list[tuple[str, int]]:
    ann = ingress["metadata"].get("annotations") or {}
    raw = ann.get("alb.ingress.kubernetes.io/listen-ports")
    if raw is None:
        https = "alb.ingress.kubernetes.io/certificate-arn" in ann
        return [("HTTPS", 443)] if https else [("HTTP", 80)]
    return [(proto, int(port)) for entry in json.loads(raw) for proto, port in entry.items()]


def backends(ingress: Mapping) -> list[tuple[str, str, Mapping]]:
    """(host or "*", path, backend service ref) for every rule path and the default backend."""
    spec = ingress.get("spec") or {}
    out = []
    if (spec.get("defaultBackend") or {}).get("service"):
        out.append(("*", "(default)", spec["defaultBackend"]["service"]))
    for rule in spec.get("rules") or []:
        for p in (rule.get("http") or {}).get("paths") or []:
            if (p.get("backend") or {}).get("service"):
                out.append((rule.get("host", "*"), p.get("path", "/"), p["backend"]["service"]))
    return out


def service_port(service: Mapping, ref_port: Mapping) -> Mapping | None:
    for port in (service.get("spec") or {}).get("ports") or []:
        if ("name" in ref_port and port.get("name") == ref_port["name"]) or \
                ("number" in ref_port and port.get("port") == ref_port["number"]):
            return port
    return None


def ingress_problems(objects: Iterable[Mapping], ec2) -> list[str]:
    objects = list(objects)
    problems = []
    for ing in alb_ingresses(objects):
        who = f"Ingress {ing['metadata'].get('namespace', 'default')}/{ing['metadata']['name']}"
        ann = ing["metadata"].get("annotations") or {}
        if annotation_problems(ann, "ingressAnnotations", who):  # nothing else is read right then
            problems += annotation_problems(ann, "ingressAnnotations", who)
            continue
        found, targets = ingress_object_problems(ing, objects)
        problems += found
        nodes = [(f"node {n.name}", n.private_ip) for n in sorted(routes.nodes(ec2).values(), key=lambda n: n.name)]
        for where, svc, port in targets:
            problems += policy_problems(where, svc, port, objects, nodes)
        problems += subnet_problems(who, ann.get("alb.ingress.kubernetes.io/scheme", "internal"), ec2)
    return problems


def has_node_port(svc: Mapping, port: Mapping) -> bool:
    """Whether the port gets a nodePort: set, or allocated by the API server (a plan's objects lack the latter)."""
    spec = svc.get("spec") or {}
    return "nodePort" in port or spec.get("type") == "NodePort" or \
        (spec.get("type") == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True) is not False)


def ingress_object_problems(ing: Mapping, objects: Iterable[Mapping]) -> tuple[list[str], list[tuple]]:
    """What the Ingress object itself gets wrong (annotations, listeners, paths, backends), and its instance
    targets as (where, Service, port) for the checks that need the nodes. Also the policy pack's rule."""
    services = {(s["metadata"].get("namespace", "default"), s["metadata"]["name"]): s
                for s in _of_kind(objects, "Service")}
    ns = ing["metadata"].get("namespace", "default")
    who = f"Ingress {ns}/{ing['metadata']['name']}"
    ann = ing["metadata"].get("annotations") or {}
    problems = annotation_problems(ann, "ingressAnnotations", who)
    if problems:
        return problems, []
    problems += _listener_problems(who, ing, ann)
    for rule in (ing.get("spec") or {}).get("rules") or []:
        for p in (rule.get("http") or {}).get("paths") or []:
            if p.get("pathType") in ("Prefix", "Exact") and re.search(r"[*?]", p.get("path", "")):
                problems.append(f"{who}: {p['pathType']} path {p['path']!r} has a wildcard (the controller "
                                "refuses it)")
    target_type = ann.get("alb.ingress.kubernetes.io/target-type", "instance")
    targets = []
    for host, path, ref in backends(ing):
        svc = services.get((ns, ref.get("name")))
        where = f"{who} {host}{path if path.startswith('/') else ' ' + path}"
        if svc is None:
            problems.append(f"{where}: backend Service {ns}/{ref.get('name')} does not exist")
            continue
        port = service_port(svc, ref.get("port") or {})
        if port is None:
            problems.append(f"{where}: Service {ref.get('name')} has no port {ref.get('port')}")
            continue
        if target_type == "instance" and not has_node_port(svc, port):
            problems.append(f"{where}: instance targets need a NodePort or LoadBalancer Service; "
                            f"{ref.get('name')} is {(svc.get('spec') or {}).get('type', 'ClusterIP')}")
            continue
        targets.append((where, svc, port))
    return problems, targets


def _listener_problems(who: str, ing: Mapping, ann: Mapping) -> list[str]:
    problems = []
    try:
        ports = listeners(ing)
    except (ValueError, AttributeError, TypeError):
        return [f"{who}: listen-ports must be a JSON list like [{{\"HTTP\": 80}}]"]
    if len({p for _, p in ports}) != len(ports):
        problems.append(f"{who}: listen-ports repeats a port")
    https = {p for proto, p in ports if proto == "HTTPS"}
    if https and "alb.ingress.kubernetes.io/certificate-arn" not in ann and not (ing.get("spec") or {}).get("tls"):
        problems.append(f"{who}: an HTTPS listener needs alb.ingress.kubernetes.io/certificate-arn")
    redirect = ann.get("alb.ingress.kubernetes.io/ssl-redirect")
    if redirect is not None and int(redirect) not in https:
        problems.append(f"{who}: ssl-redirect {redirect} is not an HTTPS listen port (the controller refuses it)")
    return problems


def subnet_problems(who: str, scheme: str, ec2) -> list[str]:
    """The controller discovers subnets by role tag; an ALB needs them in two zones at least."""
    role = tags.ELB_ROLE if scheme == "internet-facing" else tags.INTERNAL_ELB_ROLE
    zones = sorted({s["AvailabilityZone"] for s in ec2.describe_subnets(
        Filters=[{"Name": f"tag:{role}", "Values": ["1"]}])["Subnets"]})
    if len(zones) < 2:
        return [f"{who}: {scheme} needs subnets tagged {role}=1 in two zones, found {zones}"]
    return []


def policy_problems(where: str, svc: Mapping, port: Mapping, objects: list, nodes: list[tuple[str, str]]) -> list[str]:
    """Instance targets: the ALB connects to a node's NodePort and kube-proxy (externalTrafficPolicy
    Cluster) forwards from that node's address; the backend pods' policies must admit it.
    ``nodes``: (who, address) of each node address to try."""
    pols = [p for p in policies(objects) if p["metadata"].get("namespace") == svc["metadata"].get("namespace")]
    if not pols:
        return []
    problems = []
    ns = svc["metadata"].get("namespace", "default")
    for workload, _, labels, containers in selected_pods(svc, objects):
        target = port.get("targetPort", port.get("port"))
        named = {p["name"]: p["containerPort"] for c in containers for p in c.get("ports") or [] if "name" in p}
        number = named.get(target, target) if isinstance(target, str) else target
        pod = Endpoint(workload, "10.255.255.1", ns, labels, ports=named)
        for who, address in nodes:
            if not allowed(pols, Endpoint(who, address), pod, number, "TCP"):
                problems.append(f"{where}: NetworkPolicies in {ns} drop the ALB's traffic from {who} "
                                f"({address}) to {workload} port {number}")
    return problems


def nlb_service_problems(objects: Iterable[Mapping]) -> list[str]:
    problems = []
    for svc in _of_kind(objects, "Service"):
        if (svc.get("spec") or {}).get("loadBalancerClass") == NLB_CLASS:
            who = f"Service {svc['metadata'].get('namespace', 'default')}/{svc['metadata']['name']}"
            problems += annotation_problems(svc["metadata"].get("annotations") or {}, "serviceAnnotations", who)
    return problems


def _value(values: Mapping, path: str):
    """A value as the chart reads it: what the release sets, else the chart's default."""
    given = _get(values, path)
    return facts()["defaults"].get(path) if given is None else given


def active_webhooks(values: Mapping) -> list[dict]:
    """The admission webhooks the chart registers with these values, operations and failurePolicy resolved."""
    out = []
    for hook in facts()["webhooks"]:
        if ("enabledBy" in hook and not _value(values, hook["enabledBy"])) or \
                ("disabledBy" in hook and _value(values, hook["disabledBy"])):
            continue
        resolved = {k: _value(values, hook[k]["value"]) if isinstance(hook[k], dict) else hook[k]
                    for k in ("operations", "failurePolicy")}
        out.append({**hook, **resolved})
    return out


_POD_CREATORS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")


def _mapping(value) -> Mapping:
    """A map, or nothing (a value not known yet in a policy pack's preview is neither)."""
    return value if isinstance(value, Mapping) else {}


def _intercepted(hook: Mapping, record, namespaces: Mapping[str, Mapping]) -> bool:
    """Whether creating ``record``'s object (or, for Pod webhooks, the pods its workload creates) goes
    through ``hook``: kind, then the namespace and object labels the webhook selects on."""
    kind = record.type.split(":")[-1]
    api_version = record.inputs.get("apiVersion", "")
    targets = {k.rsplit("/", 1)[1]: k.rsplit("/", 1)[0] for k in hook["kinds"]}
    meta = _mapping(record.inputs.get("metadata"))
    labels = _mapping(meta.get("labels"))
    if "Pod" in targets and kind in _POD_CREATORS:
        template = _mapping(_mapping(record.inputs.get("spec")).get("template"))
        labels = _mapping(_mapping(template.get("metadata")).get("labels"))
    elif targets.get(kind) != api_version:
        return False
    namespace = meta.get("namespace")
    ns_labels = namespaces.get(namespace if isinstance(namespace, str) else "default") or {}
    return all(ns_labels.get(k) == v for k, v in (hook.get("namespaceLabel") or {}).items()) and \
        all(labels.get(k) == v for k, v in (hook.get("objectLabel") or {}).items())


def webhook_order_problems(records: Iterable) -> list[str]:
    """The controller's fail-closed webhooks refuse what they intercept while no replica serves them.
    An object one intercepts on CREATE that neither waits for the release nor is waited for by it races
    the webhook: created while the webhook configuration exists but no replica is ready, it is refused.
    (With the Service mutator off, that is the ALB Ingresses: the Ingress validator fails closed.)"""
    records = list(records)
    releases = [r for r in records if r.type == RELEASE and r.inputs.get("chart") == lb_controller.CHART]
    if not releases:
        return []
    edges = {r.urn: list(r.dependencies) for r in records}
    namespaces = {_mapping(r.inputs.get("metadata")).get("name"):
                  _mapping(_mapping(r.inputs.get("metadata")).get("labels"))
                  for r in records if r.type == "kubernetes:core/v1:Namespace"}
    problems = []
    for release in releases:
        values = _whole_numbers(release.inputs).get("values")
        if not isinstance(values, Mapping):
            continue  # not known yet (a policy pack's preview): which webhooks run cannot be told
        hooks = [h for h in active_webhooks(values) if h["failurePolicy"] == "Fail" and "CREATE" in h["operations"]]
        before = closure(release.urn, edges)  # what the release waits for
        for obj in (r for r in records if is_api_object(r.type) and not r.type.endswith("Patch")):
            hook = next((h for h in hooks if _intercepted(h, obj, namespaces)), None)
            if hook and obj.urn not in before and release.urn not in closure(obj.urn, edges):
                kind = obj.type.split(":")[-1]
                problems.append(f"{kind} {obj.name}: may be created while the load balancer controller's webhook "
                                f"{hook['name']} (failurePolicy Fail) has no ready replica; make it depend on "
                                f"{release.name}")
    return problems


def load_balancer_class_problems(records: Iterable, objects: Iterable[Mapping]) -> list[str]:
    """The controller's Service mutator (chart default: on, failurePolicy Fail, every Service CREATE in
    every namespace) exists only to give LoadBalancer Services its loadBalancerClass. While no replica
    serves it (an upgrade, a lost node) no Service can be created anywhere in the cluster. Every
    LoadBalancer Service must name its class itself and the mutator must be off."""
    releases = controller_releases(records)
    if not releases:
        return []
    problems = []
    for rel in releases:
        if any(h["name"] == "mservice.elbv2.k8s.aws" for h in active_webhooks(rel.get("values") or {})):
            problems.append(f"helm release {rel.get('name')}: the Service mutator webhook is on (chart default "
                            "enableServiceMutatorWebhook: true); it fails closed on every Service CREATE cluster-wide: "
                            "set enableServiceMutatorWebhook: false and loadBalancerClass on each LoadBalancer Service")
    for svc in _of_kind(objects, "Service"):
        spec = svc.get("spec") or {}
        if spec.get("type") == "LoadBalancer" and not spec.get("loadBalancerClass"):
            problems.append(f"Service {svc['metadata'].get('namespace', 'default')}/{svc['metadata']['name']}: "
                            "type LoadBalancer without loadBalancerClass: with the mutator off nothing assigns it "
                            f"{NLB_CLASS}, and EKS's cloud provider would build a Classic Load Balancer")
    return problems


def check_run(result, kube, ec2) -> list[str]:
    objects = list(kube.objects.values())
    aws = AwsView(ec2, region=ec2.meta.region_name)
    return (release_problems(result.records.values(), kube.schemas, aws)
            + webhook_order_problems(result.records.values())
            + load_balancer_class_problems(result.records.values(), objects)
            + ingress_problems(objects, ec2) + nlb_service_problems(objects))
