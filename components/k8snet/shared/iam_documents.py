"""IAM policy documents, as plain data. Serialised with sorted keys so a re-run never shows a
spurious diff."""

from __future__ import annotations

import json
from typing import Any

def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def service_trust(service: str, *, tag_session: bool = False) -> dict[str, Any]:
    """Trust policy letting an AWS service assume the role; ``service`` is its principal in the stack's
    partition (shared/partition.py). EKS's cluster-role guide lists sts:TagSession next to sts:AssumeRole
    for eks.amazonaws.com."""
    actions = ["sts:AssumeRole", "sts:TagSession"] if tag_session else "sts:AssumeRole"
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": actions}],
    }


def irsa_trust(oidc_provider_arn: str, issuer_url: str, namespace: str, service_account: str) -> dict[str, Any]:
    """IAM Roles for Service Accounts: only this one service account, only for STS tokens.

    ``issuer_url`` is the cluster's OIDC issuer (https://oidc.eks.<region>.amazonaws.com/id/<ID>);
    condition keys use it without the scheme (EKS user guide, "Assign IAM roles to Kubernetes
    service accounts"). The audience is sts.amazonaws.com in every partition, China's too
    (shared/partition.py)."""
    host = issuer_url.removeprefix("https://")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": oidc_provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{host}:aud": "sts.amazonaws.com",
                        f"{host}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                    }
                },
            }
        ],
    }


def kms_key_policy(partition: str, account: str, *statements: dict[str, Any]) -> dict[str, Any]:
    """A key policy: the account administers and uses the key through IAM (KMS's default policy, written out),
    plus ``statements``."""
    account_statement = {"Sid": "AccountAdministersTheKey", "Effect": "Allow",
                         "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"}, "Action": "kms:*",
                         "Resource": "*"}
    return {"Version": "2012-10-17", "Statement": [account_statement, *statements]}
