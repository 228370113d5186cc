"""Flow models of the supported modes, one engine run per mode for the whole session.

The flow tests read or mutate the extracted model (plain data), never the engine: each mode's run is the
session's shared run of that configuration (tests/shared_runs.py, the one `stack_run` gives the other tests),
and the model is a deep copy, so nothing a flow test does reaches that run.
Together the modes cover every CNI mode, both kube-proxy modes and node-local-dns on and off; the full
product (20 combinations) is in bench/flows.py.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import yaml

from offline import OfflineEngine, flows
from offline.flows.model import Model, SgRule, net
from tests.shared_runs import shared_run

ROOT = Path(__file__).resolve().parents[1]

MODES = {
    "calico-none": {},  # the dev stack: iptables, node-local-dns off
    "calico-vxlan": {"encapsulation": "vxlan", "kubeProxyMode": "ipvs", "nodeLocalDns": True},
    "calico-ipip": {"encapsulation": "ipip", "nodeLocalDns": True},
    "flannel-none": {"cni": "flannel", "kubeProxyMode": "ipvs", "nodeLocalDns": True},
    "flannel-vxlan": {"cni": "flannel", "encapsulation": "vxlan"},
}


def run_model(config: dict) -> Model:
    with OfflineEngine(ROOT, "dev", config) as engine:
        result = engine.run()
        assert result.ok, result.error
        return flows.from_engine(result, engine)


@lru_cache(maxsize=None)
def model(mode: str) -> Model:
    result, engine = shared_run(MODES[mode])
    assert result.ok, result.error
    return copy.deepcopy(flows.from_engine(result, engine))


# The flows that carry NodePort traffic a node forwards to a pod on another node (the review's breaks).
LB_FORWARDS = ("NLB -> NodePort -> pod on another node", "NLB health check, no local replica",
               "ALB -> NodePort -> pod on another node", "ALB health check, no local replica")


# --- the state before the fixes of issue 11 items 2 and 3 ---------------------------------------------

PRE_FIX = json.loads((ROOT / "tests" / "fixtures" / "flows" / "pre-fix-rules.json").read_text())
DEV_POD_CIDR = net(yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]["k8s-networking:podCidr"])


def node_group(m: Model) -> str:
    (group,) = {g for n in m.nodes.values() for g in m.interfaces[n.interface].groups}
    return group


def with_node_rules(m: Model, node_ingress, app_policies=None) -> Model:
    """``m`` with the nodes' ingress rules replaced by ``node_ingress`` (k8snet.nodes.security.IngressRule or
    the same fields as a dict) and, when given, the app namespace's NetworkPolicies that ``app_policies``
    names replaced by its versions: a state the program's pure functions describe, walked without an engine run."""
    group = node_group(m)
    cp = m.control_plane
    extra = next(g for g in m.interfaces[cp.interfaces[0]].groups if g != cp.security_group)
    sources = {"nodes": {"peer_group": group}, "control-plane": {"peer_group": extra},
               "pod-cidr": {"cidr": DEV_POD_CIDR}, "vpc-cidr": {"cidr": m.vpc_cidr}}
    fields = [r if isinstance(r, dict) else vars(r) for r in node_ingress]
    restored = tuple(SgRule(f"pre-fix-{r['key']}", group, False, r["protocol"],
                            r["from_port"], r["to_port"], name=f"workers-{r['key']}", **sources[r["source"]])
                     for r in fields)
    rules = tuple(r for r in m.rules if r.egress or r.group != group) + restored
    by_name = {p["metadata"]["name"]: p for p in app_policies or ()}
    objects = tuple(by_name.get(o["metadata"]["name"], o) if o["kind"] == "NetworkPolicy" else o for o in m.objects)
    return replace(m, rules=rules, objects=objects)


def with_pre_fix_rules(m: Model) -> Model:
    """``m`` with the nodes' ingress rules and the webapp-ingress policy as they were before the fix
    (tests/fixtures/flows/pre-fix-rules.json), whatever the code that made ``m`` does now."""
    webapp = next(o for o in m.objects if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "webapp-ingress")
    spec = json.loads(json.dumps(PRE_FIX["webapp_ingress"]).replace("VPC_CIDR", str(m.vpc_cidr)))
    return with_node_rules(m, PRE_FIX["node_ingress"][f"{m.cni.kind}/{m.cni.encapsulation}"], [{**webapp, "spec": spec}])


def failing(v) -> dict[str, object]:
    """Flow name -> the case to show (the first failing one) of every flow that does not hold."""
    return {r.flow.name: r.deciding for r in v.results if not r.holds}
