"""Cross-object checks of a finished run: what AWS and the API server accept but what would not work.

``routes`` (pod routes vs nodes, source/dest check), ``cni`` (IPPools or podCIDRs vs the VPC's blocks),
``app`` (Services, NetworkPolicy flows), ``alb`` (the load balancer controller, Ingresses, NLB Services),
``dns`` (Corefile, node-local-dns, kubelet), ``nodes`` (kubelet's maxPods vs nodeadm's reservation),
``destroy`` (what each deletion needs still exists in Pulumi's reverse dependency order), ``updates`` (worker
nodes replaced delete-first), ``hosts`` (Calico keeps pods off the nodes' own addresses), ``security`` (image
digests, hardened containers, admission policies, log encryption and
delivery, access logs). ``run_all`` is what the CLI and the tests run: these checks and every promised flow
and denial of the hop-by-hop verifier (offline/flows), which proves the packet paths that cross layers
(NodePort traffic a node forwards to a pod on another node, calico-node to Goldmane, ...) per node class.
"""

from __future__ import annotations


def forwarded_from(cfg) -> tuple[str, ...]:
    """The CIDRs the stack's forwarded web traffic comes from besides the VPC (the intent the app flow
    matrix is checked against; the flow verifier judges whether packets really get through)."""
    from k8snet.cni.dataplane import forwarded_source_cidrs

    return forwarded_source_cidrs(cfg.encapsulation, str(cfg.pod_cidr))


def run_all(result, engine, verification) -> list[str]:
    """Every problem the checks and the flow verifier find in a successful run (empty when all hold).
    ``verification``: the run's ``offline.flows.verify(offline.flows.from_engine(result, engine))`` (the flows sit
    a layer above the checks, so the caller makes it; the preview also prints its table)."""
    from . import alb, app, cni, destroy, dns, hosts, nodes, routes, security, updates
    from .stack import stack_config

    cfg = stack_config(result)
    ec2 = engine.ec2_reader()
    objects = list(engine.kube.objects.values())
    return (routes.check_pod_routes(ec2) + cni.check_run(result, engine.kube, ec2)
            + app.service_problems(objects)
            + app.flow_problems(objects, cfg.app_namespace, str(cfg.vpc_cidr), forwarded_from(cfg))
            + alb.check_run(result, engine.kube, ec2) + dns.check_run(result, engine.kube.objects)
            + nodes.check_run(result) + destroy.check_run(result)
            + updates.delete_first_problems(result.records.values()) + hosts.check_run(result, engine.kube, ec2)
            + security.check_run(result, engine) + verification.problems)
