"""Cross-object checks of a finished run: what AWS and the API server accept but what would not work.

``routes`` (pod routes vs nodes, source/dest check), ``cni`` (IPPools or podCIDRs vs the VPC's blocks),
``app`` (Services, NetworkPolicy flows), ``forwarding`` (node-to-pod traffic across nodes through the
security group and the policies, per mode), ``alb`` (the load balancer controller, Ingresses, NLB Services),
``dns`` (Corefile, node-local-dns, kubelet), ``nodes`` (kubelet's maxPods vs nodeadm's reservation),
``destroy`` (what each deletion needs still exists in Pulumi's reverse dependency order), ``updates`` (worker
nodes replaced delete-first), ``hosts`` (Calico keeps pods off the nodes' own addresses), ``security`` (image
digests, hardened containers, admission policies, log encryption and delivery, access logs). ``run_all`` is
what the CLI and the tests run.
"""

from __future__ import annotations


def forwarded_from(cfg) -> tuple[str, ...]:
    """The CIDRs the stack's forwarded web traffic comes from besides the VPC (the intent the app flow
    matrix is checked against; the forwarding check judges whether packets really get through)."""
    from k8snet.cni.dataplane import forwarded_source_cidrs

    return forwarded_source_cidrs(cfg.encapsulation, str(cfg.pod_cidr))


def run_all(result, engine) -> list[str]:
    """Every problem the checks find in a successful run (empty when all hold)."""
    from . import alb, app, cni, destroy, dns, forwarding, hosts, nodes, routes, security, updates
    from .stack import stack_config

    cfg = stack_config(result)
    ec2 = engine.ec2_reader()
    objects = list(engine.kube.objects.values())
    return (routes.check_pod_routes(ec2) + cni.check_run(result, engine.kube, ec2)
            + app.service_problems(objects)
            + app.flow_problems(objects, cfg.app_namespace, str(cfg.vpc_cidr), forwarded_from(cfg))
            + alb.check_run(result, engine.kube, ec2) + dns.check_run(result, engine.kube.objects)
            + nodes.check_run(result) + forwarding.check_run(result, engine.kube, ec2)
            + destroy.check_run(result) + updates.delete_first_problems(result.records.values())
            + hosts.check_run(result, engine.kube, ec2)
            + security.check_run(result, engine))
