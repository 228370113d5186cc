"""What the engine does to stay cheap changes no answer: moto's replaced internals return what moto's own
code returns (offline/aws/moto_speedups.py), and a run leaves the process's garbage collector as it found it."""

import gc

import boto3
import pytest
from hypothesis import given, strategies as st
from moto.ec2.exceptions import InvalidInstanceIdError
from moto.ec2.models import ec2_backends
from moto.ec2.models.instances import InstanceBackend
from moto.kms.models import kms_backends

from offline import OfflineEngine
from offline.aws import moto_speedups
from offline.harness import gc_policy, sdk_speedups
from tests.conftest import ROOT


def test_get_instance_finds_what_moto_finds(dev_stack):
    result, engine = dev_stack
    engine.ec2_reader()  # the dev run's AWS is live
    backend = ec2_backends["123456789012"]["us-east-1"]
    assert backend.get_instance.__func__ is moto_speedups.get_instance
    for record in result.of_type("aws:ec2/instance:Instance"):
        assert backend.get_instance(record.id) is InstanceBackend.get_instance(backend, record.id)
    for lookup in (backend.get_instance, lambda i: InstanceBackend.get_instance(backend, i)):
        with pytest.raises(InvalidInstanceIdError):
            lookup("i-0123456789abcdef0")


def test_tags_are_what_moto_finds(dev_stack):
    _, engine = dev_stack
    engine.ec2_reader()  # the dev run's AWS is live
    backend = ec2_backends["123456789012"]["us-east-1"]
    resources = [*backend.vpcs.values(), *backend.route_tables.values(), *backend.all_instances(),
                 *(s for zone in backend.subnets.values() for s in zone.values())]
    assert sum(bool(r.get_tags()) for r in resources) >= 10
    for resource in resources:
        assert resource.get_tags() == backend.describe_tags(filters={"resource-id": [resource.id]}), resource.id


def test_kms_keys_get_their_private_key_only_when_one_is_used(dev_stack):
    result, engine = dev_stack
    key_id = result.of_type("aws:kms/key:Key")[0].id
    assert engine.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["KeySpec"] == "SYMMETRIC_DEFAULT"
    key = kms_backends["123456789012"]["us-east-1"].keys[key_id]
    assert isinstance(key.private_key, moto_speedups.PrivateKeyOnFirstUse) and key.private_key._key is None
    with OfflineEngine(ROOT):  # an empty AWS of its own (the shared dev run is only read)
        kms = boto3.client("kms", region_name="us-east-1")
        signing = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        signature = kms.sign(KeyId=signing, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"]
        assert kms.verify(KeyId=signing, Message=b"m", Signature=signature,
                          SigningAlgorithm="RSASSA_PSS_SHA_256")["SignatureValid"]
        assert kms.get_public_key(KeyId=signing)["PublicKey"].startswith(b"0\x82")  # DER


def test_a_run_restores_the_collector_thresholds():
    before, enabled = gc.get_threshold(), gc.isenabled()
    gc.disable()  # lower thresholds would start a collection of the whole suite's heap
    try:
        gc.set_threshold(700, 10, 10)
        with gc_policy.during_a_run():
            assert gc.get_threshold() == gc_policy.RUN_THRESHOLDS
        assert gc.get_threshold() == (700, 10, 10)
        gc.set_threshold(500_000, 10, 1000)  # a process that chose more never gets less
        with gc_policy.during_a_run():
            assert gc.get_threshold() == (500_000, 50, 1000)
    finally:
        gc.set_threshold(*before)
        if enabled:
            gc.enable()


def test_a_registrations_stack_trace_is_the_sdks():
    """The engine's stack trace (sdk_speedups) is the SDK's, frame for frame: the callers of the third __init__ from
    the top (the concrete resource's constructor), file URIs (none for a file name that has none) and lines, also
    when the message is one kept from an earlier registration."""
    class Resource:
        def __init__(self):
            self.traces = (sdk_speedups.SDK_GET_STACK_TRACE(), sdk_speedups.get_stack_trace())

    class Custom(Resource):
        def __init__(self):
            super().__init__()

    class Concrete(Custom):
        def __init__(self):
            super().__init__()

    sdk, ours = Concrete().traces
    assert ours == sdk and len(ours.frames) > 5
    again = [Concrete().traces for _ in range(2)]  # a kept message: one per stack of callers' lines
    assert again[0] == again[1] and again[0][1] is again[1][1]
    assert again[0][1] == again[0][0] and again[0][1] != ours  # this line, not the one above
    sdk, ours = eval("Concrete().traces", {"Concrete": Concrete})  # a frame whose file is "<string>": no URI
    assert ours == sdk and not ours.frames[0].HasField("pc")
    assert sdk_speedups.SDK_GET_STACK_TRACE() == sdk_speedups.get_stack_trace()  # here: whatever the test runner's stack


class _Node:
    """Stands for a Resource: the cycle breaker only reads and sets its dependency attribute."""


@given(st.integers(1, 12).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3 * n))))
def test_the_cycle_breakers_reachability_is_the_sdks(graph):
    """sdk_speedups.reachable answers what the SDK's resource_cycle_breaker._reachable answers, for every pair of
    resources of any dependency graph (cycles and self-loops included), and declare_dependency with it builds the
    same graph as with the SDK's."""
    from pulumi.runtime import resource_cycle_breaker as breaker

    n, edges = graph
    ours, sdks = [_Node() for _ in range(n)], [_Node() for _ in range(n)]
    for a, b in edges:
        assert sdk_speedups.reachable(ours[b], ours[a]) == sdk_speedups.SDK_REACHABLE(sdks[b], sdks[a])
        for nodes, reach in ((ours, sdk_speedups.reachable), (sdks, sdk_speedups.SDK_REACHABLE)):
            if not reach(nodes[b], nodes[a]):  # declare_dependency's rule: no edge that closes a cycle
                breaker._add_dep(nodes[a], nodes[b])
    index = {id(x): i for i, x in enumerate(ours)} | {id(x): i for i, x in enumerate(sdks)}
    assert [sorted(index[id(d)] for d in breaker._deps(x)) for x in ours] == \
        [sorted(index[id(d)] for d in breaker._deps(x)) for x in sdks]
    for i in range(n):
        for j in range(n):
            assert sdk_speedups.reachable(ours[i], ours[j]) == sdk_speedups.SDK_REACHABLE(sdks[i], sdks[j])


def test_region_lists_and_partitions_are_what_botocore_finds():
    """region_lists: a service's regions from the endpoint resolver with its known endpoint prefix, the list botocore
    gets by loading the service model (unknown services still ask botocore); moto_speedups: EKS's partition list
    from moto's cached session."""
    import botocore.session
    import moto.eks.utils

    from offline.aws import region_lists

    session = botocore.session.Session()
    real = region_lists.BOTOCORE_GET_AVAILABLE_REGIONS
    assert botocore.session.Session.get_available_regions is region_lists.get_available_regions
    for service, prefix in region_lists.ENDPOINT_PREFIXES.items():
        assert session.get_service_model(service).metadata.get("endpointPrefix", service) == prefix, service
        for partition in session.get_available_partitions():
            assert session.get_available_regions(service, partition) == real(session, service, partition), service
    assert session.get_available_regions("sqs") == real(session, "sqs")
    assert session.get_available_regions("no-such-service") == real(session, "no-such-service") == []
    moto_speedups.install()
    assert moto.eks.utils.Session().get_available_partitions() == boto3.Session().get_available_partitions()


def test_what_the_policy_pack_reads_without_moto_is_what_moto_holds():
    """offline/aws/partitions.py: the regions moto models (its EC2 backends' list) with botocore's partition and DNS
    suffix for each, what the engine used to read through moto; offline/aws/instance_types.py: moto's instance-type
    table, also when read from its data file (the policy pack's process never imports moto)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.core.base_backend import AccountSpecificBackend
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.instance_types import INSTANCE_TYPES

    from offline.aws import instance_types, partitions

    data = AccountSpecificBackend.get_session()._session.get_component("data_loader").load_data("endpoints")
    modelled = set(ec2_backends[DEFAULT_ACCOUNT_ID].regions)
    assert partitions._partitions() == {region: (p["partition"], p["dnsSuffix"]) for p in data["partitions"]
                                        for region in p["regions"] if region in modelled}
    assert {"us-east-1", "cn-north-1", "us-gov-west-1"} <= set(partitions._partitions())
    assert partitions.partition_of("cn-north-1") == ("aws-cn", "amazonaws.com.cn")
    assert instance_types.table() is INSTANCE_TYPES  # moto's own copy where moto is loaded
    assert instance_types.read() == INSTANCE_TYPES and len(INSTANCE_TYPES) > 500


def test_the_cel_parser_is_cel_pythons_own():
    """offline/kube/admission.py builds cel-python's parser itself (to use Lark's grammar cache): the trees it gives
    are the ones cel-python's own parser gives, and a syntax error is still one."""
    import pytest as _pytest
    from celpy.celparser import CELParseError, CELParser

    from offline.kube import admission

    expressions = ["object.spec.podCIDR == oldObject.spec.podCIDR || request.userInfo.username.startsWith('system:')",
                   "has(object.spec.taints) && size(object.spec.taints) > 0 ? 1 : [1, 2][0]"]
    ours = [admission._env().compile(e) for e in expressions]
    cached, CELParser.CEL_PARSER = CELParser.CEL_PARSER, None
    try:
        import celpy
        theirs = [celpy.Environment().compile(e) for e in expressions]
    finally:
        CELParser.CEL_PARSER = cached
    assert ours == theirs
    with _pytest.raises(CELParseError):
        admission._env().compile("object.spec. ==")
