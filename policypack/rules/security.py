"""The workloads' security (issue 13; docs/security.md "Workloads"): offline/checks/images.py and security.py over
the objects the stack registers, and offline/checks/hosts.py over Calico's host-protection tier.

Objects with a value unknown during preview (a TLS Secret, a policy listing the nodes' addresses) are noted
and checked at the next preview that knows them; the rest are checked in full.
"""

from __future__ import annotations

from offline.checks import cni as cni_checks
from offline.checks import hosts
from offline.checks import images
from offline.checks import security
from offline.checks.app import WORKLOAD_KINDS

from ..plan import Plan, known
from ..registry import MANDATORY, Violation, stack_rule
from .network import nodes, routed_blocks


# The kinds each rule reads (offline/checks/images.pod_specs: pods, workloads, CronJobs).
POD_KINDS = ("Pod", "CronJob", *WORKLOAD_KINDS)
ASSIGNER_KINDS = ("DaemonSet", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "ClusterRole",
                  "ClusterRoleBinding")


def objects_of(plan: Plan, kinds: tuple[str, ...], what: str) -> list[dict]:
    """The stack's objects of ``kinds`` whose values are known (the others noted)."""
    return plan.known_objects([o for o in plan.registered_objects() if o.get("kind") in kinds], what)


@stack_rule("image-digests", "Every container of every Kubernetes object the stack registers names its image as "
                             "registry/repository:tag@sha256:<digest>",
            level=MANDATORY,
            why="A tag alone can be re-pushed: nodes would run whatever the registry serves that day (CIS EKS 5.1, "
                "checkov CKV_K8S_43). Always on, no setting (k8snet/shared/images.py pins every image). Mandatory.")
def check_images(plan: Plan, config: dict):
    yield from images.unpinned_images(objects_of(plan, POD_KINDS, "images not checked"))


@stack_rule("workload-hardening", "Every container of ours runs with the runtime's seccomp profile, no privilege "
                                  "escalation, a read-only root it can still write its files under, capabilities "
                                  "dropped to NET_ADMIN/NET_BIND_SERVICE at most, CPU and memory limits, and no "
                                  "service-account token unless a step projects one",
            level=MANDATORY,
            why="The hardening of the app, node-local-dns and the podCIDR assigner is always on (docs/security.md); "
                "a container that loses it widens what a compromised pod can do, and one whose read-only root "
                "hides a path it writes (node-cache's Corefile) crash-loops. Mandatory.")
def check_hardening(plan: Plan, config: dict):
    objects = objects_of(plan, POD_KINDS, "containers not checked")
    yield from security.workload_hardening_problems(objects) + security.writable_path_problems(objects)


def node_names(plan: Plan) -> dict[str, str]:
    """Node config name -> its Kubernetes name (the instance's private DNS name), for the nodes that have one
    yet (a new instance's is assigned by EC2)."""
    return {name: i.props["privateDns"] for name, i in nodes(plan).items()
            if isinstance(i.props.get("privateDns"), str)}


@stack_rule("assigner-admission", "The flannel podCIDR assigner may set each node's own podCIDR and nothing else: a "
                                  "ValidatingAdmissionPolicy in force for its service account, RBAC naming the "
                                  "stack's nodes",
            level=MANDATORY,
            why="The assigner's token may patch Nodes; without the admission policy it could relabel, untaint or "
                "readdress any node (and route another node's pods to itself), and a policy that denies its own "
                "patch leaves every node without a podCIDR. Evaluated with the policy's CEL (offline/kube/"
                "admission.py). Mandatory.")
def check_assigner(plan: Plan, config: dict):
    objects = objects_of(plan, ASSIGNER_KINDS, "admission not checked")
    yield from security.assigner_problems(objects, node_names(plan))


@stack_rule("database-tls", "The app's MySQL refuses plaintext and serves a certificate that chains to the CA the "
                            "webapp mounts, is valid now, is for server authentication and names the webapp's DB_HOST",
            level=MANDATORY,
            why="The webapp verifies chain and host name: a certificate that does not match fails every request, "
                "and a server that accepts plaintext lets a client skip TLS (issue 13 item 7). Mandatory.")
def check_database_tls(plan: Plan, config: dict):
    yield from security.database_tls_problems(objects_of(plan, (*POD_KINDS, "Secret", "ConfigMap"), "TLS not checked"))


@stack_rule("host-protection", "With Calico, a tier before the namespaces' policies denies pods every node's own "
                               "address and passes everything else on",
            level=MANDATORY,
            why="calico-node accepts pod-to-host traffic by default: without the tier any pod reaches kubelet, "
                "Typha, the load balancer controller's webhook and node-local-dns metrics on every node (issue 13 "
                "item 4). A node whose address EC2 has not assigned yet must at least feed the policy (a property "
                "dependency). Mandatory.")
def check_host_protection(plan: Plan, config: dict):
    kind, _ = cni_checks.cni_of(plan.records)
    if kind != "calico":
        return  # flannel has no such policy (docs/data-path.md says what that leaves open)
    policies = plan.of_type(f"kubernetes:{hosts.CRD}:GlobalNetworkPolicy")
    node_ips = {}
    for name, instance in sorted(nodes(plan).items()):
        address = instance.props.get("privateIp")
        if isinstance(address, str):
            node_ips[name] = address
        elif not any(instance.urn in p.property_dependencies.get("spec", []) for p in policies):
            yield Violation(f"{name}: no Calico GlobalNetworkPolicy is computed from its instance, so its address "
                            "will be in no host-protection rule: pods could reach its host-network ports", instance.urn)
    with plan.checking("the host-protection policy"):
        objects = known([o for o in plan.registered_objects() if o.get("apiVersion") == hosts.CRD],
                        "its node addresses")
        blocks = sorted(b for b in routed_blocks(plan).values() if isinstance(b, str))
        yield from hosts.calico_problems(objects, node_ips, blocks)
