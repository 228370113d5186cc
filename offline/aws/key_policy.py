"""What a KMS key policy grants an AWS service: the part of IAM's evaluation a key for CloudWatch Logs needs (Allow
statements for a service principal, their actions' wildcards, and String/ARN Equals/Like conditions over the
request context). Pure: the engine's CreateLogGroup (offline/aws/logs.py) and the policy pack both use it.
"""

from __future__ import annotations

import fnmatch
import json

# What CloudWatch Logs must be allowed on a group's key (CloudWatch Logs user guide, "Encrypt log data in
# CloudWatch Logs using AWS KMS", step 2's key policy).
LOGS_ACTIONS_NEEDED = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:GenerateDataKey", "kms:DescribeKey")


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _allows(statement: dict, action: str) -> bool:
    return any(fnmatch.fnmatchcase(action, pattern) or pattern == "*" for pattern in _as_list(statement.get("Action")))


def _condition_allows(condition: dict | None, context: dict[str, str]) -> bool:
    """String/ARN Equals/Like conditions over the request context (what a key policy for logs uses)."""
    for operator, clauses in (condition or {}).items():
        match = fnmatch.fnmatchcase if operator in ("ArnLike", "StringLike") else (lambda a, b: a == b)
        if operator not in ("ArnLike", "StringLike", "ArnEquals", "StringEquals"):
            return False  # not modelled: count it as not granting
        for key, wanted in clauses.items():
            if key not in context or not any(match(context[key], w) for w in _as_list(wanted)):
                return False
    return True


def key_allows_service(policy: str | None, service: str, actions: tuple[str, ...], context: dict[str, str]) -> bool:
    """Whether a key policy lets ``service`` perform every one of ``actions`` in ``context``. The default key
    policy (None) grants only the account, never a service."""
    if not policy:
        return False
    statements = json.loads(policy).get("Statement") or []
    allowed = set()
    for st in statements:
        services = _as_list((st.get("Principal") or {}).get("Service") or []) if isinstance(st.get("Principal"), dict) \
            else []
        if st.get("Effect") == "Allow" and service in services and _condition_allows(st.get("Condition"), context):
            allowed |= {a for a in actions if _allows(st, a)}
    return allowed == set(actions)
