"""The checks and the preview read EC2 through offline/aws/ec2_reader.py, not boto3: its answers must be
boto3's, field for field, on the same state (and its route entries complete: the flows read every target)."""

import pytest

from offline.checks import routes as route_checks

NODES = [{"Name": "tag-key", "Values": [route_checks.NODE_TAG]}]
PUBLIC = [{"Name": "tag:kubernetes.io/role/elb", "Values": ["1"]}]


def _differences(mine, theirs, path="") -> list[str]:
    """Where ``mine`` is not what boto3 answered: every key of ``mine`` must be in ``theirs``, equal."""
    if isinstance(mine, dict) and isinstance(theirs, dict):
        return [d for k, v in mine.items()
                for d in (_differences(v, theirs[k], f"{path}.{k}") if k in theirs else [f"{path}.{k}: not in boto3's"])]
    if isinstance(mine, list) and isinstance(theirs, list) and len(mine) == len(theirs):
        return [d for i, (a, b) in enumerate(zip(mine, theirs)) for d in _differences(a, b, f"{path}[{i}]")]
    return [] if mine == theirs else [f"{path}: {mine!r} != {theirs!r}"]


@pytest.mark.parametrize("call, request_", [
    ("describe_instances", {}), ("describe_instances", {"Filters": NODES}), ("describe_route_tables", {}),
    ("describe_vpcs", {}), ("describe_subnets", {}), ("describe_subnets", {"Filters": PUBLIC}),
    ("describe_security_group_rules", {}),
])
def test_answers_are_boto3s(dev_stack, call, request_):
    _, engine = dev_stack
    mine = getattr(engine.ec2_reader(), call)(**request_)
    theirs = getattr(engine.client("ec2"), call)(**request_)
    assert mine and _differences(mine, theirs) == []
    if call == "describe_route_tables":
        routes = [(set(a), set(b)) for t, u in zip(mine["RouteTables"], theirs["RouteTables"])
                  for a, b in zip(t["Routes"], u["Routes"])]
        assert routes and all(a == b for a, b in routes)


def test_instance_attribute_and_anything_else_through_boto3(dev_stack):
    result, engine = dev_stack
    reader, client = engine.ec2_reader(), engine.client("ec2")
    instance = result.exports["nodes"]["node1"]["instanceId"]
    ask = {"InstanceId": instance, "Attribute": "sourceDestCheck"}
    assert reader.describe_instance_attribute(**ask)["SourceDestCheck"] == client.describe_instance_attribute(**ask)[
        "SourceDestCheck"] == {"Value": False}
    assert reader.meta.region_name == "us-east-1"
    assert reader.describe_nat_gateways()["NatGateways"] == client.describe_nat_gateways()["NatGateways"]


def test_every_node_is_read_past_the_first_page(dev_stack):
    """AWS pages DescribeInstances, and so does moto: 100 reservations unless asked otherwise
    (moto/ec2/responses/instances.py). The node checks read every page; the reader has just one."""
    _, engine = dev_stack
    client = engine.client("ec2")
    everything = client.describe_instances(Filters=NODES)["Reservations"]

    class OnePerPage:  # the real client, asked for one reservation per page
        meta = client.meta

        def describe_instances(self, **request):
            start = int(request.pop("NextToken", 0))
            page = {"Reservations": everything[start:start + 1]}
            return {**page, "NextToken": str(start + 1)} if start + 1 < len(everything) else page

        def describe_instance_attribute(self, **request):
            return client.describe_instance_attribute(**request)

    assert len(everything) == 3
    assert route_checks.nodes(OnePerPage()) == route_checks.nodes(client) == route_checks.nodes(engine.ec2_reader())


def test_a_request_with_more_than_filters_is_boto3s(dev_stack):
    """Ids (or paging) are asked of boto3: the answer is a real client's, never a TypeError or the whole list."""
    result, engine = dev_stack
    reader, client = engine.ec2_reader(), engine.client("ec2")
    table = result.exports["podRouteTableIds"]["us-east-1a"]
    instance = result.exports["nodes"]["node1"]["instanceId"]
    for call, request_ in [("describe_route_tables", {"RouteTableIds": [table]}),
                           ("describe_instances", {"InstanceIds": [instance]}),
                           ("describe_subnets", {"Filters": PUBLIC, "MaxResults": 5})]:
        mine = getattr(reader, call)(**request_)
        mine.pop("ResponseMetadata")  # boto3's own, per request
        theirs = getattr(client, call)(**request_)
        theirs.pop("ResponseMetadata")
        assert mine == theirs
    assert [t["RouteTableId"] for t in reader.describe_route_tables(RouteTableIds=[table])["RouteTables"]] == [table]


def test_every_check_reading_ec2_says_the_same_through_the_reader_and_boto3(run_copy):
    """The reader omits fields no check reads; a check that starts reading one would see None through it and a
    value through boto3. Every check that takes ``ec2`` gives the same answer both ways, on a state where they
    find problems (a node checking source/dest again, a pod route deleted)."""
    from offline import report
    from offline.checks import alb, cni, hosts

    result, engine = run_copy()
    client = engine.client("ec2")
    node2 = result.exports["nodes"]["node2"]["instanceId"]
    client.modify_instance_attribute(InstanceId=node2, SourceDestCheck={"Value": True})
    table = result.exports["podRouteTableIds"]["us-east-1a"]
    client.delete_route(RouteTableId=table, DestinationCidrBlock="10.1.3.0/24")
    reader = engine.ec2_reader()
    checks = {
        "routes.nodes": route_checks.nodes, "routes.check_pod_routes": route_checks.check_pod_routes,
        "cni.routed_blocks": cni.routed_blocks, "cni.check_run": lambda ec2: cni.check_run(result, engine.kube, ec2),
        "alb.check_run": lambda ec2: alb.check_run(result, engine.kube, ec2),
        "hosts.check_run": lambda ec2: hosts.check_run(result, engine.kube, ec2),
        "report.cni_table": lambda ec2: report.cni_table(result, engine.kube, ec2),
    }
    mine = {name: check(reader) for name, check in checks.items()}
    assert mine == {name: check(client) for name, check in checks.items()}
    problems = mine["routes.check_pod_routes"]
    assert any(p.startswith("node2: source/dest check is on") for p in problems), problems
    assert any("10.1.3.0/24" in p for p in problems), problems
