"""Read-only by construction: every AWS client refuses any operation outside an explicit allowlist before a
request is signed, and the Kubernetes client refuses any HTTP method but GET before a request is sent.

An allowlist, not a Describe/Get/List prefix rule: STS ``GetSessionToken`` mints credentials and EC2 has
``Get*`` operations that are not reads of our resources; the doctor needs exactly these.
"""

from __future__ import annotations

# botocore service id (hyphenized, as in its event names) -> the operations the doctor calls.
ALLOWED_OPERATIONS = {
    "ec2": {"DescribeRouteTables", "DescribeInstances", "DescribeNetworkInterfaces", "DescribeNatGateways",
            "DescribeAddresses"},
    "service-quotas": {"GetServiceQuota", "GetAWSDefaultServiceQuota"},
    "eks": {"ListAddons", "DescribeAddon"},
    "elastic-load-balancing-v2": {"DescribeLoadBalancers", "DescribeTargetGroups", "DescribeTargetHealth"},
}


class ReadOnlyViolation(RuntimeError):
    """The doctor tried an operation that is not a read it is allowed to make."""


def guard(client, calls: list[str] | None = None):
    """Make a boto3 client refuse every operation not in ALLOWED_OPERATIONS; record the ones made."""
    service = client.meta.service_model.service_id.hyphenize()
    allowed = ALLOWED_OPERATIONS.get(service, set())

    def before_parameter_build(model, **_):
        if model.name not in allowed:
            raise ReadOnlyViolation(f"{service}:{model.name} is not a read the doctor may make")
        if calls is not None:
            calls.append(f"{service}:{model.name}")

    # before-parameter-build is emitted to every handler (not "until a response", as before-call is), before the
    # request is built or signed: nothing registered on the client, not even a botocore Stubber, skips the guard.
    client.meta.events.register_first(f"before-parameter-build.{service}.*", before_parameter_build)
    return client


def aws_clients(session, calls: list[str] | None = None):
    """A factory service name -> guarded client of ``session`` (a boto3 Session)."""
    cache = {}

    def client(service: str):
        if service not in cache:
            cache[service] = guard(session.client(service), calls)
        return cache[service]
    return client


def kube_api_client(api_client, calls: list[str] | None = None):
    """Make a kubernetes.client.ApiClient refuse every request but GET (and record the paths it reads)."""
    send = api_client.call_api

    def call_api(method, url, *args, **kwargs):
        if str(method).upper() != "GET":
            raise ReadOnlyViolation(f"{method} {url}: the doctor only reads from the Kubernetes API")
        if calls is not None:
            calls.append(f"GET {url}")
        return send(method, url, *args, **kwargs)

    api_client.call_api = call_api
    return api_client
