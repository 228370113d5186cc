"""The live AWS account against the stack: each check takes a guarded client factory (``readonly``), the
stack's outputs and its config, and returns findings. Field names and enum values are botocore 1.44.5's
service models (ec2 Route.State active|blackhole|filtered; NatGateway.State pending|failed|available|deleting|
deleted; eks Addon.status CREATING|ACTIVE|CREATE_FAILED|UPDATING|DELETING|DELETE_FAILED|DEGRADED|UPDATE_FAILED;
elbv2 TargetHealth.State initial|healthy|unhealthy|unhealthy.draining|unused|draining|unavailable)."""

from __future__ import annotations

import json

from ..config import StackConfig
from ..dns.corefile import coredns_corefile
from .findings import Finding, fail, ok, skip, warn

# Service Quotas codes: "Routes per route table" (VPC) and "EC2-VPC Elastic IPs" (EC2).
ROUTE_QUOTA = ("vpc", "L-93826ACB")
EIP_QUOTA = ("ec2", "L-0263D0A3")
REFRESH_AND_UP = "run `pulumi refresh` then `pulumi up`: the route is re-created on the node's current interface"


def _primary_eni(instance: dict) -> dict:
    return next((n for n in instance.get("NetworkInterfaces") or [] if n["Attachment"]["DeviceIndex"] == 0), {})


def _instances(client, outputs: dict) -> dict[str, dict]:
    """Config node name -> the live instance (as describe_instances reports it)."""
    ids = {info["instanceId"]: name for name, info in outputs.get("nodes", {}).items()}
    found = {}
    if ids:
        for reservation in client("ec2").describe_instances(InstanceIds=sorted(ids))["Reservations"]:
            for inst in reservation["Instances"]:
                found[ids[inst["InstanceId"]]] = inst
    return found


def pod_routes(client, outputs: dict, cfg: StackConfig) -> list[Finding]:
    """Every node's block routed in every pod-route table, active, to the node's current primary interface."""
    if not cfg.pod_routes:
        return [skip("pod routes", "all tables", f"encapsulation {cfg.encapsulation}: the overlay carries pods")]
    instances = _instances(client, outputs)
    tables = outputs.get("podRouteTableIds", {})
    live = {t["RouteTableId"]: t for t in client("ec2").describe_route_tables(
        RouteTableIds=sorted(tables.values()))["RouteTables"]} if tables else {}
    findings = []
    for zone, table_id in sorted(tables.items()):
        routes = live.get(table_id, {}).get("Routes", [])
        for name, info in sorted(outputs.get("nodes", {}).items()):
            subject, block = f"{name} in {table_id} ({zone})", info["podCidr"]
            route = next((r for r in routes if r.get("DestinationCidrBlock") == block), None)
            primary = _primary_eni(instances.get(name, {})).get("NetworkInterfaceId")
            if route is None:
                findings.append(fail("pod route", subject, f"no route for {block}", REFRESH_AND_UP))
            elif route.get("State") != "active":
                findings.append(fail("pod route", subject, f"{block} -> {route.get('NetworkInterfaceId')} is "
                                     f"{route.get('State')} (its target is gone)", REFRESH_AND_UP))
            elif route.get("NetworkInterfaceId") != primary:
                findings.append(fail("pod route", subject, f"{block} -> {route.get('NetworkInterfaceId')}, but "
                                     f"{name}'s primary interface is {primary}", REFRESH_AND_UP))
            else:
                findings.append(ok("pod route", subject, f"{block} -> {primary} active"))
    return findings


def source_dest_check(client, outputs: dict, cfg: StackConfig) -> list[Finding]:
    """Routed nodes must not check source/destination (instance attribute and primary interface alike)."""
    if not cfg.pod_routes:
        return []
    findings = []
    instances = _instances(client, outputs)
    enis = [_primary_eni(i).get("NetworkInterfaceId") for i in instances.values()]
    live = {n["NetworkInterfaceId"]: n for n in client("ec2").describe_network_interfaces(
        NetworkInterfaceIds=[e for e in enis if e])["NetworkInterfaces"]} if any(enis) else {}
    for name, inst in sorted(instances.items()):
        eni = _primary_eni(inst).get("NetworkInterfaceId")
        checking = inst.get("SourceDestCheck", True) or live.get(eni, {}).get("SourceDestCheck", False)
        if checking:
            findings.append(fail("source/dest check", name, f"on for {inst['InstanceId']} / {eni}: EC2 drops its "
                                 "routed pod traffic", f"`pulumi up` turns it off again, or `aws ec2 "
                                 f"modify-instance-attribute --instance-id {inst['InstanceId']} --no-source-dest-check`"))
        else:
            findings.append(ok("source/dest check", name, "off"))
    for name in sorted(set(outputs.get("nodes", {})) - set(instances)):
        findings.append(fail("node instance", name, "not found", "`pulumi refresh` then `pulumi up` re-creates it"))
    return findings


def _quota(client, code: tuple[str, str]) -> float:
    """The applied quota; AWS's default where none was ever applied (GetServiceQuota answers
    NoSuchResourceException then: "If the applied quota value is not available for a quota, the quota is not
    retrieved", the API reference; aws-cli#6629)."""
    quotas = client("service-quotas")
    try:
        return quotas.get_service_quota(ServiceCode=code[0], QuotaCode=code[1])["Quota"]["Value"]
    except quotas.exceptions.NoSuchResourceException:
        return quotas.get_aws_default_service_quota(ServiceCode=code[0], QuotaCode=code[1])["Quota"]["Value"]


def route_quota(client, outputs: dict, cfg: StackConfig) -> list[Finding]:
    """Routes per pod-route table against the live quota: room for one more node?"""
    findings = []
    tables = sorted(outputs.get("podRouteTableIds", {}).values())
    quota = int(_quota(client, ROUTE_QUOTA))
    if cfg.route_table_quota > quota:
        findings.append(warn("route quota", "config", f"routeTableQuota is {cfg.route_table_quota} but the account's "
                             f"quota is {quota}", "set routeTableQuota to the live quota, or raise the quota"))
    for table in client("ec2").describe_route_tables(RouteTableIds=tables)["RouteTables"] if tables else []:
        count = len(table["Routes"])
        subject = table["RouteTableId"]
        if count > quota:
            findings.append(fail("route quota", subject, f"{count} routes, quota {quota}", "raise L-93826ACB"))
        elif count == quota:
            findings.append(warn("route quota", subject, f"{count} routes: at the quota of {quota}, no room for "
                                 "another node", "request more Routes per route table (L-93826ACB) before adding nodes"))
        else:
            findings.append(ok("route quota", subject, f"{count} of {quota} routes"))
    return findings


def eip_quota(client, outputs: dict, cfg: StackConfig) -> list[Finding]:
    """Elastic IPs in use against the live quota: room for another NAT gateway?"""
    findings = []
    eips = len(client("ec2").describe_addresses(Filters=[{"Name": "domain", "Values": ["vpc"]}])["Addresses"])
    eip_quota = int(_quota(client, EIP_QUOTA))
    if eips >= eip_quota:
        findings.append(warn("Elastic IP quota", "region", f"{eips} of {eip_quota} in use: no room for another NAT "
                             "gateway", "request more EC2-VPC Elastic IPs (L-0263D0A3) before natGateways: perAz"))
    else:
        findings.append(ok("Elastic IP quota", "region", f"{eips} of {eip_quota} in use"))
    return findings


def nat_gateways(client, outputs: dict, cfg: StackConfig) -> list[Finding]:
    gateways = [g for g in client("ec2").describe_nat_gateways(
        Filters=[{"Name": "vpc-id", "Values": [outputs["vpcId"]]}])["NatGateways"] if g["State"] != "deleted"]
    findings = []
    for g in gateways:
        if g["State"] == "available":
            findings.append(ok("NAT gateway", g["NatGatewayId"], "available"))
        else:
            findings.append(fail("NAT gateway", g["NatGatewayId"], f"{g['State']}: {g.get('FailureMessage', '')}".strip(": "),
                                 "nodes in its zone have no egress: `pulumi refresh` then `pulumi up` replaces it"))
    wanted = 1 if cfg.nat_gateways == "single" else len(outputs.get("availabilityZones", [])) or 1
    if sum(g["State"] == "available" for g in gateways) < wanted:
        findings.append(fail("NAT gateway", outputs["vpcId"], f"{sum(g['State'] == 'available' for g in gateways)} "
                             f"available, {wanted} expected ({cfg.nat_gateways})", "`pulumi refresh` then `pulumi up`"))
    return findings


def addons(client, outputs: dict, cfg: StackConfig) -> list[Finding]:
    """Every EKS add-on ACTIVE; CoreDNS's Corefile the one the program generates."""
    eks = client("eks")
    cluster = outputs["clusterName"]
    findings = []
    for name in sorted(eks.list_addons(clusterName=cluster)["addons"]):
        addon = eks.describe_addon(clusterName=cluster, addonName=name)["addon"]
        if addon["status"] != "ACTIVE":
            issues = "; ".join(f"{i.get('code')}: {i.get('message')}" for i in (addon.get("health") or {}).get("issues", []))
            findings.append(fail("EKS add-on", name, f"{addon['status']}" + (f" ({issues})" if issues else ""),
                                 f"`aws eks describe-addon --cluster-name {cluster} --addon-name {name}` shows the "
                                 "issues; `pulumi up` re-applies its configuration (conflicts OVERWRITE)"))
        else:
            findings.append(ok("EKS add-on", name, f"ACTIVE {addon.get('addonVersion', '')}".strip()))
        if name == "coredns":
            findings.append(_corefile(addon, cfg))
    return findings


def _corefile(addon: dict, cfg: StackConfig) -> Finding:
    want = coredns_corefile(cfg.coredns)
    got = json.loads(addon.get("configurationValues") or "{}").get("corefile")
    if got == want:
        return ok("Corefile", "coredns add-on", f"the generated one ({len(want.splitlines())} lines)")
    if got is None:
        return fail("Corefile", "coredns add-on", "the add-on has no corefile value (EKS's default Corefile)",
                    "`pulumi up` sets it (the hosts and stub domains of the config are missing until then)")
    line = next((f"line {i + 1}: {g!r} != {w!r}" for i, (g, w) in
                 enumerate(zip(got.splitlines() + [""] * 999, want.splitlines() + [""] * 999)) if g != w), "")
    return fail("Corefile", "coredns add-on", f"differs from the generated one ({line})",
                "edited outside Pulumi: `pulumi up` restores it (resolve conflicts OVERWRITE)")


def targets(client, outputs: dict, cfg: StackConfig) -> list[Finding]:
    """The ALB's and NLB's target groups: every node registered and healthy."""
    hostnames = {outputs.get(k) for k in ("albHostname", "appLoadBalancerHostname")} - {None, ""}
    if not hostnames:
        return [skip("load balancer targets", "-", "the stack exports no load balancer")]
    elbv2 = client("elbv2")
    balancers = {lb["DNSName"]: lb for page in elbv2.get_paginator("describe_load_balancers").paginate()
                 for lb in page["LoadBalancers"]}
    nodes = {info["instanceId"]: name for name, info in outputs.get("nodes", {}).items()}
    findings = []
    for host in sorted(hostnames):
        lb = balancers.get(host)
        if lb is None:
            findings.append(fail("load balancer", host, "no load balancer has this DNS name",
                                 "the controller has not created it: `kubectl -n kube-system logs "
                                 "deploy/aws-load-balancer-controller`"))
            continue
        for group in elbv2.describe_target_groups(LoadBalancerArn=lb["LoadBalancerArn"])["TargetGroups"]:
            health = {d["Target"]["Id"]: d["TargetHealth"] for d in elbv2.describe_target_health(
                TargetGroupArn=group["TargetGroupArn"])["TargetHealthDescriptions"]}
            for instance_id, name in sorted(nodes.items(), key=lambda kv: kv[1]):
                subject = f"{name} in {group['TargetGroupName']}"
                state = health.get(instance_id)
                if state is None:
                    findings.append(fail("target", subject, "not registered", "instance targets register every "
                                         "node: check the controller's logs and the node's labels"))
                elif state["State"] != "healthy":
                    findings.append(fail("target", subject, f"{state['State']} {state.get('Reason', '')} "
                                         f"{state.get('Description', '')}".strip(),
                                         f"the {group.get('HealthCheckProtocol', '')} health check on port "
                                         f"{group.get('HealthCheckPort', '')} fails: the node security group must "
                                         "admit the load balancer, and the NetworkPolicies the VPC (python -m "
                                         "offline shows the flows)"))
                else:
                    findings.append(ok("target", subject, "healthy"))
    return findings


CHECKS = (pod_routes, source_dest_check, route_quota, eip_quota, nat_gateways, addons, targets)
