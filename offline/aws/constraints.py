"""Field constraints AWS enforces that moto 5.2.5 does not: one table, applied to every AWS registration.

``check(type, inputs, partition)`` runs before the resource's handler (or the echo of an unmodelled
type), so an offline run stops where `pulumi up` would: on the first refused field, with AWS's error
code, the resource (the engine names it) and the field. Each row says where its rule comes from:

- ``BC:<service> <Shape>`` -- the AWS service model shipped with botocore 1.44.5 (the machine form of
  the API Reference: min/max/pattern and the documentation text of the shape or member named);
- ``TF <file>`` -- terraform-provider-aws, which pulumi-aws 7.51.1 bridges: a plan-time validation,
  so `pulumi preview` already fails (the error code column then says "provider");
- ``IAM quotas`` etc. -- the service's quotas page, for limits that are quotas rather than shapes.

Only stateless rules live here (one input, or one resource's inputs). Rules that need AWS's state
(a route that already exists, a subnet with a route table) stay in ``rules.py`` and the handlers.
``docs/offline-engine.md`` lists this table as ``markdown()`` renders it (a test keeps them equal).
"""

from __future__ import annotations

import ipaddress
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .rules import AwsRejection

# --- type tokens --------------------------------------------------------------------------------------

VPC, SUBNET, IGW, EIP, NAT = ("aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/internetGateway:InternetGateway",
                              "aws:ec2/eip:Eip", "aws:ec2/natGateway:NatGateway")
ROUTE_TABLE, SG, INSTANCE = "aws:ec2/routeTable:RouteTable", "aws:ec2/securityGroup:SecurityGroup", "aws:ec2/instance:Instance"
SG_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG_EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SG_RULES = (SG_INGRESS, SG_EGRESS)
EC2_TAGGED = (VPC, SUBNET, IGW, EIP, NAT, ROUTE_TABLE, SG, INSTANCE, *SG_RULES)
ROLE, POLICY, PROFILE = "aws:iam/role:Role", "aws:iam/policy:Policy", "aws:iam/instanceProfile:InstanceProfile"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
OIDC = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
IAM_TAGGED = (ROLE, POLICY, PROFILE, OIDC)
KMS_KEY, KMS_ALIAS = "aws:kms/key:Key", "aws:kms/alias:Alias"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
CLUSTER, ACCESS_ENTRY, ADDON = "aws:eks/cluster:Cluster", "aws:eks/accessEntry:AccessEntry", "aws:eks/addon:Addon"
ACCESS_POLICY = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
EKS_TAGGED = (CLUSTER, ACCESS_ENTRY, ADDON)

# --- rules --------------------------------------------------------------------------------------------

Test = Callable[[Any, dict, str], "str | None"]  # (value, the resource's inputs, partition) -> problem


@dataclass(frozen=True)
class Rule:
    text: str  # what the table says
    test: Test
    bounds: tuple[int, int] | None = None  # (min, max) of a length rule, compared with botocore's shapes


@dataclass(frozen=True)
class Constraint:
    types: tuple[str, ...]
    field: str  # input path: "a.b" nested, "a[]" every element of a list, "*" every string input
    rule: Rule
    code: str  # AWS's error code ("provider": the provider's plan-time validation)
    source: str
    message: str = ""  # AWS's own message, where it is known


def length(lo: int, hi: int) -> Rule:
    def test(v, _i, _p):
        n = len(str(v))
        return None if lo <= n <= hi else f"has {n} characters; allowed {lo}-{hi}"
    return Rule(f"{lo}–{hi} characters", test, (lo, hi))


def charset(allowed: str, label: str) -> Rule:
    chars = set(allowed)

    def test(v, _i, _p):
        bad = sorted({c for c in str(v) if c not in chars})
        return f"contains {''.join(bad)!r}, outside {label}" if bad else None
    return Rule(f"only {label}", test)


def pattern(regex: str, label: str) -> Rule:
    compiled = re.compile(regex, re.ASCII | re.DOTALL)
    return Rule(label, lambda v, _i, _p: None if compiled.fullmatch(str(v)) else f"does not match {label}")


def starts_with(prefix: str) -> Rule:
    return Rule(f"starts with `{prefix}`", lambda v, _i, _p: None if str(v).startswith(prefix) else f"must start with {prefix!r}")


def not_prefix(prefix: str) -> Rule:
    return Rule(f"does not start with `{prefix}`",
                lambda v, _i, _p: f"must not start with {prefix!r}" if str(v).lower().startswith(prefix.lower()) else None)


def one_of(*values) -> Rule:
    shown = ", ".join(str(v) for v in values)
    return Rule(f"one of {shown}", lambda v, _i, _p: None if v in values else f"is not one of {shown}")


def between(lo: int, hi: int) -> Rule:
    def test(v, _i, _p):
        return None if isinstance(v, (int, float)) and v == int(v) and lo <= v <= hi else f"is outside {lo}..{hi}"
    return Rule(f"whole number {lo}–{hi}", test)


def count(hi: int) -> Rule:
    return Rule(f"at most {hi} entries", lambda v, _i, _p: None if len(v) <= hi else f"has {len(v)} entries; at most {hi}")


def raw_bytes(hi: int) -> Rule:
    def test(v, _i, _p):
        n = len(str(v).encode())
        return None if n <= hi else f"is {n} bytes before base64; at most {hi}"
    return Rule(f"at most {hi} bytes raw (before base64)", test)


def document_size(hi: int) -> Rule:
    # IAM counts a policy's characters without white space (IAM quotas page).
    def test(v, _i, _p):
        n = len(re.sub(r"\s", "", str(v)))
        return None if n <= hi else f"has {n} characters (white space not counted); the quota is {hi}"
    return Rule(f"at most {hi} characters, white space not counted", test)


def network_address() -> Rule:
    def test(v, _i, _p):
        try:
            ipaddress.ip_network(str(v), strict=True)
        except ValueError:
            return f"is not a network address (host bits set?) -- the provider wants e.g. {ipaddress.ip_network(str(v), strict=False)}" \
                if "/" in str(v) else "is not a CIDR block"
        return None
    return Rule("a CIDR block without host bits", test)


def ip_protocol() -> Rule:
    names = {"tcp", "udp", "icmp", "icmpv6", "-1"}

    def test(v, _i, _p):
        text = str(v).lower()
        return None if text in names or (text.isdigit() and 0 <= int(text) <= 255) else "is not tcp, udp, icmp, icmpv6, -1 or a protocol number 0-255"
    return Rule("tcp, udp, icmp, icmpv6, -1 or 0–255", test)


def private_service_cidr() -> Rule:
    def test(v, _i, _p):
        net = ipaddress.ip_network(str(v), strict=False)
        rfc1918 = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
        if not any(net.subnet_of(r) for r in rfc1918):
            return "is not inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"
        return None if 12 <= net.prefixlen <= 24 else f"is a /{net.prefixlen}; allowed /12 to /24"
    return Rule("RFC 1918, /12 to /24", test)


def _tag_chars(text: str) -> bool:
    # [\p{L}\p{Z}\p{N}_.:/=+\-@]: letters, separators (spaces), numbers and _ . : / = + - @
    return all(unicodedata.category(c)[0] in "LZN" or c in "_.:/=+-@" for c in text)


def tags(hi: int, key_max: int, value_max: int, chars: bool, values_reserved: bool = False) -> Rule:
    what = f"≤{hi} tags, keys 1–{key_max}, values ≤{value_max} characters, keys not `aws:`"
    if values_reserved:
        what += " (nor values)"
    if chars:
        what += r", letters, digits, spaces and `_.:/=+-@` only"

    def test(v, _i, _p):
        if not isinstance(v, dict):
            return None
        if len(v) > hi:
            return f"has {len(v)} tags; at most {hi}"
        for key, value in sorted(v.items()):
            key, value = str(key), str(value)
            if not 1 <= len(key) <= key_max:
                return f"key {key[:40]!r}... has {len(key)} characters; at most {key_max}"
            if len(value) > value_max:
                return f"value of {key!r} has {len(value)} characters; at most {value_max}"
            if key.lower().startswith("aws:") or (values_reserved and value.lower().startswith("aws:")):
                return f"{key!r}: the aws: prefix is reserved for AWS"
            if chars and not (_tag_chars(key) and _tag_chars(value)):
                return f"{key!r}: {value!r} has characters outside letters, digits, spaces and _.:/=+-@"
        return None
    return Rule(what, test)


def addon_configuration() -> Rule:
    def test(v, inputs, _p):
        from .eks_catalog import ADDON_SCHEMAS  # the add-on's DescribeAddonConfiguration schema
        import jsonschema

        try:
            document = json.loads(v)
            schema = ADDON_SCHEMAS.get(inputs.get("addonName"), {"type": "object"})
            jsonschema.validate(document, schema)
        except (json.JSONDecodeError, jsonschema.ValidationError) as exc:
            return f"Json schema validation failed with error: {getattr(exc, 'message', exc)}"
        return None
    return Rule("JSON object valid for the add-on's configuration schema", test)


def standard_entry_only() -> Rule:
    def test(v, inputs, _p):
        kind = inputs.get("type", "STANDARD")
        return None if kind == "STANDARD" or not v else f"cannot be set for type {kind}"
    return Rule("only for type STANDARD", test)


def access_scope() -> Rule:
    def test(v, _i, _p):
        kind, namespaces = (v or {}).get("type"), (v or {}).get("namespaces") or []
        if kind not in ("cluster", "namespace"):
            return f"type {kind!r} is not cluster or namespace"
        if (kind == "namespace") != bool(namespaces):
            return "namespaces are required for type namespace and refused for type cluster"
        return None
    return Rule("type cluster, or namespace with namespaces", test)


def cluster_access_policy() -> Rule:
    def test(v, _i, partition):
        prefix = f"arn:{partition}:eks::aws:cluster-access-policy/"
        return None if str(v).startswith(prefix) and len(str(v)) > len(prefix) else f"is not {prefix}<Name>"
    return Rule("`arn:<partition>:eks::aws:cluster-access-policy/<Name>`", test)


_ARN = re.compile(r"arn:([a-z][a-z0-9-]*):")


def own_partition() -> Rule:
    def test(v, _i, partition):
        others = sorted({m for m in _ARN.findall(str(v)) if m != partition})
        return f"names an ARN of partition {others[0]!r}; this region is in {partition!r}" if others else None
    return Rule("every ARN in it names the region's partition", test)


def root_volume() -> Rule:
    sizes = {"gp2": (1, 16384), "gp3": (1, 65536), "io1": (4, 16384), "io2": (4, 65536),
             "st1": (125, 16384), "sc1": (125, 16384), "standard": (1, 1024)}

    def test(v, _i, _p):
        kind, size = (v or {}).get("volumeType", "gp3"), (v or {}).get("volumeSize")
        if kind not in sizes:
            return f"volumeType {kind!r} is not one of {', '.join(sizes)}"
        lo, hi = sizes[kind]
        return None if size is None or lo <= size <= hi else f"volumeSize {size:g} GiB is outside {lo}-{hi} for {kind}"
    return Rule("volumeSize within its volumeType's range (gp3 1–65,536 GiB)", test)


# --- character sets -----------------------------------------------------------------------------------

_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
EC2_TEXT = _ALNUM + " ._-:/()#,@[]+=&;{}!$*"  # group names, group and rule descriptions
EC2_TEXT_LABEL = "a-zA-Z0-9, space and ._-:/()#,@[]+=&;{}!$*"
IAM_DESCRIPTION = "\t\n\r" + "".join(map(chr, range(0x20, 0x7F))) + "".join(map(chr, range(0xA1, 0x100)))
IAM_DOCUMENT = "\t\n\r" + "".join(map(chr, range(0x20, 0x100)))
RETENTION_DAYS = (0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                  3288, 3653)  # 0: the provider's "never expire" (no PutRetentionPolicy call)
IAM_NAME = r"[\w+=,.@-]+"
IAM_PATH = r"/|/[\x21-\x7e]+/"
POLICY_PATH = r"((/[A-Za-z0-9.,+@=_-]+)*)/"
SG_RULE_MESSAGE = ("Invalid rule description. Valid descriptions are strings less than 256 characters from the "
                   "following set: a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*")

_BC_EC2 = "BC:ec2 "
_IAM_QUOTAS = "IAM quotas (docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html)"
_TF_RULE = "TF internal/service/ec2/vpc_security_group_ingress_rule.go"

# --- the table ----------------------------------------------------------------------------------------

TABLE: tuple[Constraint, ...] = (
    # EC2: security groups and their rules
    Constraint((SG,), "name", length(1, 255), "InvalidParameterValue", _BC_EC2 + "CreateSecurityGroupRequest.GroupName"),
    Constraint((SG,), "name", not_prefix("sg-"), "InvalidParameterValue", _BC_EC2 + "CreateSecurityGroupRequest.GroupName"),
    Constraint((SG,), "name", charset(EC2_TEXT, EC2_TEXT_LABEL), "InvalidParameterValue",
               _BC_EC2 + "CreateSecurityGroupRequest.GroupName"),
    Constraint((SG,), "description", length(0, 255), "InvalidParameterValue",
               _BC_EC2 + "CreateSecurityGroupRequest.Description"),
    Constraint((SG,), "description", charset(EC2_TEXT, EC2_TEXT_LABEL), "InvalidParameterValue",
               _BC_EC2 + "CreateSecurityGroupRequest.Description"),
    Constraint(SG_RULES, "description", length(0, 255), "InvalidParameterValue", _BC_EC2 + "IpRange.Description",
               SG_RULE_MESSAGE),
    Constraint(SG_RULES, "description", charset(EC2_TEXT, EC2_TEXT_LABEL), "InvalidParameterValue",
               _BC_EC2 + "IpRange.Description; message: aws-cloudformation/cfn-lint#173", SG_RULE_MESSAGE),
    Constraint(SG_RULES, "ipProtocol", ip_protocol(), "InvalidParameterValue", _BC_EC2 + "IpPermission.IpProtocol"),
    Constraint(SG_RULES, "fromPort", between(-1, 65535), "provider", _TF_RULE + " (int64validator.Between)"),
    Constraint(SG_RULES, "toPort", between(-1, 65535), "provider", _TF_RULE + " (int64validator.Between)"),
    Constraint(SG_RULES, "cidrIpv4", network_address(), "provider", _TF_RULE + " (IPv4CIDRNetworkAddress)"),
    # EC2: addresses and NAT gateways
    Constraint((EIP,), "domain", one_of("vpc", "standard"), "InvalidParameterValue", _BC_EC2 + "AllocateAddressRequest.Domain"),
    Constraint((NAT,), "connectivityType", one_of("public", "private"), "InvalidParameterValue",
               _BC_EC2 + "CreateNatGatewayRequest.ConnectivityType"),
    # EC2: instances
    Constraint((INSTANCE,), "userData", raw_bytes(16384), "InvalidParameterValue",
               _BC_EC2 + "FleetLaunchTemplateSpecificationRequest.UserData (16 KB raw, before base64)"),
    Constraint((INSTANCE,), "metadataOptions.httpTokens", one_of("optional", "required"), "InvalidParameterValue",
               _BC_EC2 + "InstanceMetadataOptionsRequest.HttpTokens"),
    Constraint((INSTANCE,), "metadataOptions.httpPutResponseHopLimit", between(1, 64), "InvalidParameterValue",
               _BC_EC2 + "InstanceMetadataOptionsRequest.HttpPutResponseHopLimit"),
    Constraint((INSTANCE,), "rootBlockDevice", root_volume(), "InvalidParameterValue", _BC_EC2 + "EbsBlockDevice.VolumeSize"),
    # EC2: tags on every taggable resource (EC2 allows any characters)
    Constraint(EC2_TAGGED, "tags", count(50), "TagLimitExceeded", _BC_EC2 + "CreateTags (50 tags per resource)"),
    Constraint(EC2_TAGGED, "tags", tags(50, 127, 256, chars=False), "InvalidParameterValue", _BC_EC2 + "Tag.Key, Tag.Value"),
    # IAM
    Constraint((ROLE,), "name", length(1, 64), "ValidationError", "BC:iam roleNameType"),
    Constraint((ROLE,), "name", pattern(IAM_NAME, r"`[\w+=,.@-]+`"), "ValidationError", "BC:iam roleNameType"),
    Constraint((ROLE, PROFILE), "path", length(1, 512), "ValidationError", "BC:iam pathType"),
    Constraint((ROLE, PROFILE), "path", pattern(IAM_PATH, "`/` or `/…/` of U+0021–U+007E"), "ValidationError",
               "BC:iam pathType"),
    Constraint((ROLE,), "description", length(0, 1000), "ValidationError", "BC:iam roleDescriptionType"),
    Constraint((ROLE,), "description", charset(IAM_DESCRIPTION, "TAB, LF, CR, U+0020–U+007E, U+00A1–U+00FF"),
               "ValidationError", "BC:iam roleDescriptionType"),
    Constraint((ROLE,), "assumeRolePolicy", document_size(2048), "LimitExceeded",
               _IAM_QUOTAS + ", role trust policy length (default quota)", "Cannot exceed quota for ACLSizePerRole: 2048"),
    Constraint((ROLE, POLICY), "*Policy", charset(IAM_DOCUMENT, "TAB, LF, CR, U+0020–U+00FF"), "MalformedPolicyDocument",
               "BC:iam policyDocumentType"),
    Constraint((ROLE,), "maxSessionDuration", between(3600, 43200), "ValidationError", "BC:iam roleMaxSessionDurationType"),
    Constraint((POLICY,), "name", length(1, 128), "ValidationError", "BC:iam policyNameType"),
    Constraint((POLICY,), "name", pattern(IAM_NAME, r"`[\w+=,.@-]+`"), "ValidationError", "BC:iam policyNameType"),
    Constraint((POLICY,), "path", pattern(POLICY_PATH, "`/` or `/…/` of A-Za-z0-9.,+@=_-"), "ValidationError",
               "BC:iam policyPathType"),
    Constraint((POLICY,), "description", length(0, 1000), "ValidationError", "BC:iam policyDescriptionType"),
    Constraint((POLICY,), "policy", document_size(6144), "LimitExceeded", _IAM_QUOTAS + ", managed policy length",
               "Cannot exceed quota for PolicySize: 6144"),
    Constraint((PROFILE,), "name", length(1, 128), "ValidationError", "BC:iam instanceProfileNameType"),
    Constraint((PROFILE,), "name", pattern(IAM_NAME, r"`[\w+=,.@-]+`"), "ValidationError", "BC:iam instanceProfileNameType"),
    Constraint((ATTACHMENT,), "policyArn", length(20, 2048), "ValidationError", "BC:iam arnType"),
    Constraint((OIDC,), "url", length(1, 255), "ValidationError", "BC:iam OpenIDConnectProviderUrlType"),
    Constraint((OIDC,), "url", starts_with("https://"), "InvalidInput", "IAM CreateOpenIDConnectProvider (Url)"),
    Constraint((OIDC,), "clientIdLists", count(100), "LimitExceeded", "IAM quotas, client IDs per OIDC provider",
               "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: 100"),
    Constraint((OIDC,), "clientIdLists[]", length(1, 255), "ValidationError", "BC:iam clientIDType"),
    Constraint((OIDC,), "thumbprintLists", count(5), "LimitExceeded", "IAM quotas, thumbprints per OIDC provider"),
    Constraint((OIDC,), "thumbprintLists[]", length(40, 40), "ValidationError", "BC:iam thumbprintType"),
    Constraint(IAM_TAGGED, "tags", tags(50, 128, 256, chars=True), "ValidationError",
               "BC:iam tagKeyType, tagValueType, tagListType"),
    # KMS
    Constraint((KMS_KEY,), "description", length(0, 8192), "ValidationException", "BC:kms DescriptionType"),
    Constraint((KMS_KEY,), "policy", length(1, 32768), "LimitExceededException",
               "KMS quotas, key policy document size 32 KB (BC:kms PolicyType allows 131072)"),
    Constraint((KMS_KEY,), "deletionWindowInDays", between(7, 30), "ValidationException",
               "BC:kms ScheduleKeyDeletionRequest.PendingWindowInDays (documented 7–30)"),
    Constraint((KMS_KEY,), "tags", tags(50, 128, 256, chars=False), "TagException", "BC:kms TagKeyType, TagValueType"),
    Constraint((KMS_ALIAS,), "name", length(1, 256), "ValidationException", "BC:kms AliasNameType"),
    Constraint((KMS_ALIAS,), "name", pattern(r"[a-zA-Z0-9:/_-]+", "`[a-zA-Z0-9:/_-]+`"), "ValidationException",
               "BC:kms AliasNameType"),
    Constraint((KMS_ALIAS,), "name", starts_with("alias/"), "ValidationException", "BC:kms CreateAliasRequest.AliasName"),
    Constraint((KMS_ALIAS,), "name", not_prefix("alias/aws/"), "NotAuthorizedException",
               "BC:kms CreateAliasRequest.AliasName (reserved for AWS managed keys)"),
    # CloudWatch Logs
    Constraint((LOG_GROUP,), "name", length(1, 512), "InvalidParameterException", "BC:logs LogGroupName"),
    Constraint((LOG_GROUP,), "name", pattern(r"[.\-_/#A-Za-z0-9]+", "letters, digits and `._-/#`"), "InvalidParameterException",
               "BC:logs LogGroupName"),
    Constraint((LOG_GROUP,), "name", not_prefix("aws/"), "InvalidParameterException", "BC:logs CreateLogGroup"),
    Constraint((LOG_GROUP,), "retentionInDays", one_of(*RETENTION_DAYS), "InvalidParameterException",
               "BC:logs Days; 0 = never expire (pulumi-aws cloudwatch.LogGroup)"),
    Constraint((LOG_GROUP,), "tags", tags(50, 128, 256, chars=True), "InvalidParameterException",
               "BC:logs TagKey, TagValue, Tags"),
    # EKS
    Constraint((CLUSTER,), "name", length(1, 100), "InvalidParameterException", "BC:eks ClusterName"),
    Constraint((CLUSTER,), "name", pattern(r"[0-9A-Za-z][A-Za-z0-9\-_]*", "`^[0-9A-Za-z][A-Za-z0-9-_]*`"),
               "InvalidParameterException", "BC:eks ClusterName"),
    Constraint((CLUSTER,), "kubernetesNetworkConfig.serviceIpv4Cidr", private_service_cidr(), "provider",
               "TF eks cluster schema (IsCIDRNetwork(12, 24), validateIPv4CIDRPrivateRange)"),
    Constraint((CLUSTER,), "enabledClusterLogTypes[]",
               one_of("api", "audit", "authenticator", "controllerManager", "scheduler"),
               "InvalidParameterException", "BC:eks LogType"),
    Constraint((CLUSTER,), "accessConfig.authenticationMode", one_of("CONFIG_MAP", "API", "API_AND_CONFIG_MAP"),
               "InvalidParameterException", "BC:eks AuthenticationMode"),
    Constraint((ACCESS_ENTRY,), "type",
               one_of("STANDARD", "EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX", "EC2", "HYBRID_LINUX", "HYPERPOD_LINUX"),
               "InvalidParameterException", "BC:eks CreateAccessEntryRequest.type"),
    Constraint((ACCESS_ENTRY,), "kubernetesGroups", standard_entry_only(), "InvalidParameterException",
               "BC:eks CreateAccessEntryRequest.type"),
    Constraint((ACCESS_ENTRY,), "userName", standard_entry_only(), "InvalidParameterException",
               "BC:eks CreateAccessEntryRequest.type"),
    Constraint((ADDON,), "configurationValues", addon_configuration(), "InvalidParameterException",
               "BC:eks CreateAddonRequest.configurationValues; terraform-provider-aws#32238",
               "ConfigurationValue provided in request is not supported"),
    Constraint((ADDON,), "resolveConflictsOnCreate", one_of("NONE", "OVERWRITE"), "InvalidParameterException",
               "BC:eks CreateAddonRequest.resolveConflicts (PRESERVE is for updates)"),
    Constraint((ADDON,), "resolveConflictsOnUpdate", one_of("NONE", "OVERWRITE", "PRESERVE"), "InvalidParameterException",
               "BC:eks ResolveConflicts"),
    Constraint((ACCESS_POLICY,), "policyArn", cluster_access_policy(), "InvalidParameterException",
               "BC:eks AssociateAccessPolicyRequest.policyArn; ARN form: terraform-aws-eks v21.19.0 main.tf"),
    Constraint((ACCESS_POLICY,), "accessScope", access_scope(), "InvalidParameterException", "BC:eks AccessScope"),
    Constraint(EKS_TAGGED, "tags", tags(50, 128, 256, chars=False, values_reserved=True), "BadRequestException",
               "BC:eks TagMap, TagKey, TagValue"),
    # Every AWS input: ARNs of the stack's own partition (aws, aws-cn, aws-us-gov)
    Constraint(("*",), "*", own_partition(), "InvalidParameterValue",
               "AWS General Reference, ARN format; IAM refuses another partition's managed policy (NoSuchEntity) and a "
               "policy Resource of another partition never matches"),
)


# --- applying the table -------------------------------------------------------------------------------

def _values(inputs: dict, path: str) -> list[tuple[str, Any]]:
    """(field as shown, value) for ``path`` in ``inputs``; absent fields yield nothing."""
    if path == "*":
        return [(k, v) for k, v in _strings(inputs, "")]
    if path == "*Policy":
        return [(k, v) for k, v in inputs.items() if k in ("policy", "assumeRolePolicy") and v is not None]
    current: list[tuple[str, Any]] = [("", inputs)]
    for part in path.split("."):
        each = part.endswith("[]")
        name = part.removesuffix("[]")
        found = []
        for shown, value in current:
            if not isinstance(value, dict) or value.get(name) is None:
                continue
            child, where = value[name], f"{shown}.{name}" if shown else name
            if each:
                found += [(f"{where}[{i}]", item) for i, item in enumerate(child or [])]
            else:
                found.append((where, child))
        current = found
    return current


def _strings(value: Any, where: str):
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{where}[{i}]")


def _plain(value: Any) -> Any:
    """Secrets arrive wrapped ({<signature>: ..., "value": v}); rules judge the value."""
    from pulumi.runtime import rpc

    if isinstance(value, dict):
        if rpc.is_rpc_secret(value):
            return _plain(value.get("value"))
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def rows_for(type_token: str) -> list[Constraint]:
    return [c for c in TABLE if type_token in c.types or (c.types == ("*",) and type_token.startswith("aws:"))]


def violations(type_token: str, inputs: dict, partition: str = "aws", skip=None):
    """(row, field, value, problem) for every field of ``inputs`` the table refuses, rows in table order.
    ``skip(value)`` true: that value is not judged (the policy pack passes values unknown during preview)."""
    plain = _plain(inputs)
    for row in rows_for(type_token):
        for where, value in _values(plain, row.field):
            if skip is not None and skip(value):
                continue
            problem = row.rule.test(value, plain, partition)
            if problem:
                yield row, where, value, problem


def message(row: Constraint, where: str, value: Any, problem: str) -> str:
    shown = value if len(str(value)) <= 80 else f"{str(value)[:77]}..."
    aws_says = f' (AWS: "{row.message}")' if row.message else ""
    return f"{where} {shown!r} {problem}{aws_says} [{row.source}]"


def check(type_token: str, inputs: dict, partition: str = "aws") -> None:
    """Raise AwsRejection for the first field of ``inputs`` the table refuses (rows in table order)."""
    for row, where, value, problem in violations(type_token, inputs, partition):
        rejection = AwsRejection(row.code, message(row, where, value, problem))
        rejection.constraint = row
        raise rejection


# --- auto-naming: the name the provider gives a resource that was not given one ---------------------------

# pulumi-aws names these from the resource name plus "-" and 7 random hex digits, and refuses a resource
# name too long for that (pulumi sdk resource.NewUniqueHex: "name '<prefix>' plus 7 random chars is longer
# than maximum length <n>"); maxima are the names' AWS limits. A security group given only namePrefix is
# named <namePrefix><26 characters> (terraform-provider-aws id.PrefixedUniqueId).
AUTONAMED = {ROLE: 64, POLICY: 128, PROFILE: 128, LOG_GROUP: 512, CLUSTER: 100, SG: 255}


def autonamed(type_token: str, resource_name: str, inputs: dict) -> dict:
    """``inputs`` with the name the provider would send to AWS; draws from moto's seeded RNG (the engine
    seeds it per resource, so names are reproducible)."""
    limit = AUTONAMED.get(type_token)
    if limit is None or inputs.get("name"):
        return inputs
    if type_token == SG and inputs.get("namePrefix") is not None:
        return {**inputs, "name": inputs["namePrefix"] + _hex(26)}
    prefix = f"{resource_name}-"
    if len(prefix) + 7 > limit:
        raise AwsRejection("provider", f"could not make instance of '{type_token}': name '{prefix}' plus 7 random "
                           f"chars is longer than maximum length {limit}")
    return {**inputs, "name": prefix + _hex(7)}


def _hex(length: int) -> str:
    # moto's RNG, seeded per resource by the engine (reproducible names); imported here, where only the engine
    # comes: the policy pack checks constraints without moto.
    from moto.moto_api._internal import mock_random

    return "".join(mock_random.choice("0123456789abcdef") for _ in range(length))


# --- the table as docs/offline-engine.md shows it ---------------------------------------------------------

def markdown() -> str:
    lines = ["| resource type | field | rule | AWS error | source |", "|---|---|---|---|---|"]
    for row in TABLE:
        types = ", ".join("every AWS type" if t == "*" else t.rsplit(":", 1)[-1] for t in row.types)
        if row.types == EC2_TAGGED:
            types = "every EC2/VPC type with tags"
        field_name = {"*": "every string input", "*Policy": "policy, assumeRolePolicy"}.get(row.field, row.field)
        code = row.code + (f": {row.message}" if row.message else "")
        lines.append(f"| {types} | `{field_name}` | {row.rule.text} | {code} | {row.source} |".replace("\n", " "))
    return "\n".join(lines)
