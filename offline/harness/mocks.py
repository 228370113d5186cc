"""pulumi.runtime.Mocks backed by moto: modelled AWS types are created in moto, the rest echoed."""

from __future__ import annotations

import fnmatch
import hashlib
import re

from .. import aws  # noqa: F401 -- first: offline/aws makes boto's region lists cheap before moto imports
import pulumi
from moto.ec2.models.instance_types import INSTANCE_TYPE_OFFERINGS, INSTANCE_TYPES
from moto.moto_api._internal import mock_random

from ..aws import constraints, elb_accounts
from ..aws import ec2 as aws_ec2
from ..aws import eks as aws_eks
from ..aws import iam as aws_iam
from ..aws import logs as aws_logs
from ..aws import s3 as aws_s3
from ..aws.context import AwsContext
from ..aws.rules import AwsRejection
from ..kube import helm
from ..kube.addons import addon_objects
from ..kube.api_server import KubeContext, KubeRejection, _whole_numbers, is_api_object, unwrap_secrets
from .. import tls as tls_provider

# Kubernetes versions whose EKS AL2023 AMI parameters exist, per the EKS version calendar
# (1.29-1.35 released on EKS by Jan 2026; 1.35 in standard support until Mar 2027).
EKS_AMI_VERSIONS = ("1.29", "1.30", "1.31", "1.32", "1.33", "1.34", "1.35")
_EKS_AMI_PARAM = re.compile(
    r"^/aws/service/eks/optimized-ami/(?P<version>1\.\d+)/amazon-linux-2023/(?P<arch>x86_64|arm64)/standard/recommended/image_id$"
)
EKS_AMI_OWNER = "602401143452"  # the account that publishes EKS-optimized AMIs
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"


def plain(inputs: dict) -> dict:
    """Inputs as a provider receives them: secrets unwrapped, whole numbers as ints."""
    return _whole_numbers(unwrap_secrets(dict(inputs)))


def stable_seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\0".join(parts).encode()).digest()[:8], "big")


class MotoMocks(pulumi.runtime.Mocks):
    def __init__(self, ctx: AwsContext, kube: KubeContext | None = None):
        self.ctx = ctx
        self.kube = kube
        self.handlers = {**aws_ec2.HANDLERS, **aws_iam.HANDLERS, **aws_eks.HANDLERS, **aws_logs.HANDLERS,
                         **aws_s3.HANDLERS, **tls_provider.HANDLERS}
        self._eks_amis: dict[str, str] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs, salt: str = "") -> tuple[str | None, dict]:
        """``salt`` tells a replacement's ids from those of the resource it replaces."""
        if not args.custom:
            return None, {}  # component resources have no provider-side state
        # Ids drawn from moto's RNG depend only on the resource's identity, not on what else
        # the stack holds or in which order resources arrive: reruns are reproducible.
        mock_random.seed(stable_seed(args.typ, args.name, *((salt,) if salt else ())))
        if self.kube is not None and args.typ.startswith("kubernetes:"):
            # The Kubernetes provider talks to the cluster as the identity running pulumi.
            if (why := aws_eks.cluster_admin_problem(self.ctx)) is not None:
                raise KubeRejection("Unauthorized", why)
        if self.kube is not None and is_api_object(args.typ):
            return self.kube.create(args.typ, dict(args.inputs))
        if self.kube is not None and args.typ == HELM_RELEASE:
            helm.install(self.kube, plain(args.inputs))  # what the chart puts into the cluster
        if args.typ == "random:index/randomPassword:RandomPassword":
            return self._random_password(args)
        inputs = dict(args.inputs)
        if args.typ.startswith("aws:"):
            # What AWS (or the provider) checks on every create that moto does not: the field table.
            inputs = constraints.autonamed(args.typ, args.name, inputs)
            constraints.check(args.typ, inputs, self.ctx.partition)
        handler = self.handlers.get(args.typ)
        if handler is None:
            return self.echo(args, inputs)
        try:
            # A replacement's client token differs from the original's, as the provider's does.
            created = handler(self.ctx, args.name + (f"-{salt}" if salt else ""), inputs)
            if args.typ == "aws:eks/cluster:Cluster" and self.kube is not None:
                state = created[1]
                self.kube.attach_cluster(state["version"], state["kubernetesNetworkConfig"]["serviceIpv4Cidr"])
            if args.typ == "aws:eks/addon:Addon" and self.kube is not None:
                for obj in addon_objects(dict(args.inputs), self.kube.service_cidr, self.ctx.region):
                    self.kube.install(obj)  # what the add-on puts into the cluster
            return created
        except (AwsRejection, tls_provider.TlsRejection):
            raise
        except StopIteration:
            # moto's address generator runs dry in a full subnet (a /24 holds 251 instances: AWS keeps 5
            # addresses) where EC2 answers with this error. A StopIteration must not reach the event loop
            # either: a future cannot carry one, and the run would wait for it forever.
            where = f" in subnet '{args.inputs['subnetId']}'" if args.inputs.get("subnetId") else ""
            raise AwsRejection("InsufficientFreeAddressesInSubnet",
                               f"There are not enough free addresses{where} to satisfy the request.") from None
        except Exception as exc:  # moto's own validation errors carry AWS error codes
            code = getattr(exc, "error_type", None) or getattr(exc, "code", None)
            if code:
                raise AwsRejection(str(code), getattr(exc, "message", str(exc))) from exc
            raise

    def _random_password(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        """pulumi-random's RandomPassword: ``length`` characters from the enabled classes, at least
        ``min*`` of each; reproducible per resource (mock_random is seeded from its name)."""
        inputs = dict(args.inputs)
        classes = {"Upper": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "Lower": "abcdefghijklmnopqrstuvwxyz",
                   "Numeric": "0123456789", "Special": inputs.get("overrideSpecial") or "!@#$%&*()-_=+[]{}<>:?"}
        enabled = {k: v for k, v in classes.items() if inputs.get(k.lower(), True)}
        length = int(inputs["length"])
        chars = [mock_random.choice(v) for k, v in enabled.items() for _ in range(int(inputs.get(f"min{k}", 0)))]
        pool = "".join(enabled.values())
        chars += [mock_random.choice(pool) for _ in range(length - len(chars))]
        mock_random.shuffle(chars)
        result = "".join(chars)
        return "none", {**inputs, "result": result, "bcryptHash": "$2a$10$" + hashlib.sha256(result.encode()).hexdigest()[:53]}

    def echo(self, args: pulumi.runtime.MockResourceArgs, inputs: dict | None = None) -> tuple[str, dict]:
        """A type the engine does not model: id derived from its name, state = its inputs (with the name
        the provider gave it, if any)."""
        return f"{args.name}-{stable_seed(args.typ, args.name) % 16**8:08x}", dict(args.inputs if inputs is None else inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        token, inputs = args.token, dict(args.args)
        ctx = self.ctx
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return self._zones(inputs)
        if token == "aws:ssm/getParameter:getParameter":
            return self._ssm_parameter(inputs["name"])
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ctx.account_id,
                "arn": ctx.caller_arn,
                "userId": "AIDAOFFLINEENGINE",
                "id": ctx.account_id,
            }
        if token == "aws:elb/getServiceAccount:getServiceAccount":
            return elb_accounts.elb_service_account(ctx.region, ctx.partition)
        if token == "aws:index/getRegion:getRegion":
            return {"name": ctx.region, "region": ctx.region, "id": ctx.region,
                    "endpoint": f"ec2.{ctx.region}.{ctx.dns_suffix}", "description": ctx.region}
        if token == "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings":
            return self._instance_type_offerings(inputs)
        if token == "aws:ec2/getInstanceType:getInstanceType":
            return self._instance_type(inputs["instanceType"])
        if token == "aws:index/getPartition:getPartition":
            # The region's partition (botocore's endpoint data): aws-cn for cn-north-1, aws-us-gov, ...
            return {"partition": ctx.partition, "dnsSuffix": ctx.dns_suffix, "id": ctx.partition,
                    "reverseDnsPrefix": ".".join(reversed(ctx.dns_suffix.split(".")))}
        raise NotImplementedError(f"the offline engine does not model the invoke {token}")

    def _zones(self, inputs: dict) -> dict:
        zones = self.ctx.ec2.describe_availability_zones()
        state = inputs.get("state")
        for f in inputs.get("filters") or []:
            # moto's zones are all standard zones: opt-in-status is 'opt-in-not-required'.
            if f["name"] == "opt-in-status" and "opt-in-not-required" not in f["values"]:
                zones = []
            elif f["name"] not in ("opt-in-status", "zone-type", "region-name"):
                raise NotImplementedError(f"availability-zone filter {f['name']} is not modelled")
        if state not in (None, "available"):
            zones = []
        zones = sorted(zones, key=lambda z: z.name)
        return {
            "id": self.ctx.region,
            "names": [z.name for z in zones],
            "zoneIds": [z.zone_id for z in zones],
            "groupNames": [self.ctx.region for _ in zones],
            "state": state,
        }

    def _instance_type_offerings(self, inputs: dict) -> dict:
        """DescribeInstanceTypeOfferings in the region from moto's offering data (moto ships none for the
        aws-cn and aws-us-gov regions: there every type moto knows is offered)."""
        if inputs.get("locationType", "region") != "region":
            raise NotImplementedError("instance type offerings are modelled per region only")
        names = [o["InstanceType"] for o in INSTANCE_TYPE_OFFERINGS["region"].get(self.ctx.region, [])] \
            or sorted(INSTANCE_TYPES)
        for f in inputs.get("filters") or []:
            if f["name"] != "instance-type":
                raise NotImplementedError(f"instance type offering filter {f['name']} is not modelled")
            names = [n for n in names if any(fnmatch.fnmatchcase(n, pattern) for pattern in f["values"])]
        names = sorted(set(names))
        return {"id": self.ctx.region, "instanceTypes": names, "locations": [self.ctx.region] * len(names),
                "locationTypes": ["region"] * len(names)}

    def _instance_type(self, name: str) -> dict:
        """DescribeInstanceTypes for one type (the fields the program reads, as pulumi-aws names them)."""
        info = INSTANCE_TYPES.get(name)
        if info is None:
            raise AwsRejection("InvalidInstanceType", f"The following supplied instance types do not exist: [{name}]")
        network = info.get("NetworkInfo", {})
        return {
            "id": name, "instanceType": name,
            "defaultVcpus": info["VCpuInfo"]["DefaultVCpus"],
            "memorySize": info["MemoryInfo"]["SizeInMiB"],
            "supportedArchitectures": info.get("ProcessorInfo", {}).get("SupportedArchitectures", []),
            "maximumNetworkInterfaces": network.get("MaximumNetworkInterfaces", 0),
            "maximumIpv4AddressesPerInterface": network.get("Ipv4AddressesPerInterface", 0),
        }

    def _ssm_parameter(self, name: str) -> dict:
        match = _EKS_AMI_PARAM.match(name)
        if not match or match["version"] not in EKS_AMI_VERSIONS:
            raise AwsRejection("ParameterNotFound", f"Parameter {name} not found.")
        if name not in self._eks_amis:
            # Publish the AMI into moto as AWS would have, so instances can be launched from it.
            mock_random.seed(stable_seed("ami", name))
            image = self.ctx.ec2.register_image(
                name=f"amazon-eks-node-al2023-{match['arch']}-standard-{match['version']}-v20261115",
                description=f"EKS-optimized Kubernetes node based on Amazon Linux 2023, ({match['version']})",
            )
            image.architecture = match["arch"]
            image.owner_id = EKS_AMI_OWNER
            self._eks_amis[name] = image.id
        value = self._eks_amis[name]
        return {
            "id": name,
            "name": name,
            "arn": self.ctx.arn("ssm", f"parameter{name}", account=""),
            "type": "String",
            "value": value,
            "insecureValue": value,
            "version": 1,
            "withDecryption": True,
        }
