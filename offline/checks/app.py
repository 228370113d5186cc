"""Cross-object checks of Kubernetes objects (as the API server holds them: ``engine.kube.objects``
values) that the API server would accept but that would not work: a Service selecting no pods, a
targetPort no container exposes, a StatefulSet whose serviceName is not its headless Service,
duplicate or out-of-range nodePorts, NetworkPolicies that do not produce the intended flows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from k8snet.app import flows as app_flows
from k8snet.dns import node_local_dns_manifests
from k8snet.app.manifests import NODE_PORT_RANGE
from k8snet.app.policy_eval import allowed

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")


def pod_templates(objects: Iterable[Mapping]) -> list[tuple[str, str, dict, list]]:
    """(workload "Kind/name", namespace, pod labels, containers) of every pod template."""
    out = []
    for obj in objects:
        if obj["kind"] in WORKLOAD_KINDS:
            tmpl = obj["spec"]["template"]
            labels, spec = (tmpl.get("metadata") or {}).get("labels") or {}, tmpl["spec"]
        elif obj["kind"] == "Pod":
            labels, spec = obj["metadata"].get("labels") or {}, obj["spec"]
        else:
            continue
        out.append((f"{obj['kind']}/{obj['metadata']['name']}", obj["metadata"].get("namespace", "default"),
                    labels, spec.get("containers") or []))
    return out


def selected_pods(service: Mapping, objects: Iterable[Mapping]) -> list[tuple[str, str, dict, list]]:
    """The pod templates (as ``pod_templates`` gives them) a Service's selector matches."""
    selector = (service.get("spec") or {}).get("selector") or {}
    ns = service["metadata"].get("namespace", "default")
    if not selector:
        return []
    return [t for t in pod_templates(objects)
            if t[1] == ns and all(t[2].get(k) == v for k, v in selector.items())]


def matching_workloads(service: Mapping, objects: Iterable[Mapping]) -> list[tuple[str, list]]:
    return [(name, containers) for name, _, _, containers in selected_pods(service, objects)]


def _resolves(target, containers: list) -> bool:
    ports = [p for c in containers for p in c.get("ports") or []]
    if isinstance(target, str):
        return any(p.get("name") == target for p in ports)
    return any(p.get("containerPort") == target for p in ports)


def service_problems(objects: Iterable[Mapping]) -> list[str]:
    objects = list(objects)
    services = [o for o in objects if o["kind"] == "Service"]
    problems, node_ports = [], {}
    for svc in services:
        who = f"Service {svc['metadata'].get('namespace', 'default')}/{svc['metadata']['name']}"
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName":
            continue
        matches = matching_workloads(svc, objects)
        if spec.get("selector") and not matches:
            problems.append(f"{who}: selector {spec['selector']} matches no pod template in the stack")
        for port in spec.get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            for workload, containers in matches:
                if not _resolves(target, containers):
                    problems.append(f"{who}: targetPort {target!r} is no container port of {workload}")
            if "nodePort" in port:
                np = port["nodePort"]
                if not NODE_PORT_RANGE[0] <= np <= NODE_PORT_RANGE[1]:
                    problems.append(f"{who}: nodePort {np} is outside {NODE_PORT_RANGE[0]}-{NODE_PORT_RANGE[1]}")
                if np in node_ports:
                    problems.append(f"{who}: nodePort {np} is already {node_ports[np]}'s")
                node_ports.setdefault(np, who)
    for sts in (o for o in objects if o["kind"] == "StatefulSet"):
        ns, name = sts["metadata"].get("namespace", "default"), sts["spec"].get("serviceName")
        svc = next((s for s in services if s["metadata"]["name"] == name
                    and s["metadata"].get("namespace", "default") == ns), None)
        who = f"StatefulSet {ns}/{sts['metadata']['name']}"
        if svc is None:
            problems.append(f"{who}: serviceName {name!r} is no Service in {ns}")
        elif (svc.get("spec") or {}).get("clusterIP") != "None":
            problems.append(f"{who}: serviceName {name!r} is not headless (clusterIP: None)")
        elif not any(w == f"StatefulSet/{sts['metadata']['name']}" for w, _ in matching_workloads(svc, objects)):
            problems.append(f"{who}: its headless Service {name!r} does not select its pods")
    return problems


def policies(objects: Iterable[Mapping]) -> list[Mapping]:
    return [o for o in objects if o["kind"] == "NetworkPolicy"]


def node_local_dns_ips(objects: Iterable[Mapping]) -> tuple[str, ...]:
    """The addresses the node-local-dns DaemonSet in the API server listens on (none if absent)."""
    ds = next((o for o in objects if o["kind"] == "DaemonSet" and o["metadata"]["name"] == node_local_dns_manifests.NAME
               and o["metadata"].get("namespace") == node_local_dns_manifests.NAMESPACE), None)
    return node_local_dns_manifests.local_ips_of(ds) if ds else ()


def flow_results(objects: Iterable[Mapping], namespace: str, vpc_cidr: str,
                 forwarded_from: Sequence[str] = ()) -> list[tuple[app_flows.Flow, bool]]:
    objects = list(objects)
    pols = policies(objects)
    return [(f, allowed(pols, f.src, f.dst, f.port, f.protocol))
            for f in app_flows.flows(namespace, vpc_cidr, node_local_dns_ips(objects), forwarded_from)]


def flow_problems(objects: Iterable[Mapping], namespace: str, vpc_cidr: str,
                  forwarded_from: Sequence[str] = ()) -> list[str]:
    """Flows the policies allow but should not, or block but should allow (empty without policies:
    then everything is allowed, by choice of config)."""
    objects = list(objects)
    if not any(p["metadata"].get("namespace") == namespace for p in policies(objects)):
        return []
    return [f"{f.src.name} -> {f.dst.name}:{f.port}/{f.protocol} is {'allowed' if got else 'denied'}, "
            f"expected {'allowed' if f.expected else 'denied'} ({f.why})"
            for f, got in flow_results(objects, namespace, vpc_cidr, forwarded_from) if got != f.expected]
