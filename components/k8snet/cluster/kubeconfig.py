"""The kubeconfig the Kubernetes provider (and a user's kubectl) uses for an EKS cluster.

Tokens come from ``aws eks get-token`` at use time (exec credential plugin), so the file holds no
credential; it is still exported as a secret because it names the endpoint and carries the CA.
get-token runs as the stack's AWS identity: its profile in the exec env, its role in ``--role-arn``
(k8snet/cluster/access.py explains why and what cannot be carried).
"""

from __future__ import annotations

import json

from .access import KubeconfigIdentity

EXEC_API = "client.authentication.k8s.io/v1beta1"  # what `aws eks get-token` emits


def kubeconfig(cluster_name: str, endpoint: str, certificate_authority: str, region: str,
               identity: KubeconfigIdentity = KubeconfigIdentity()) -> str:
    user = f"{cluster_name}-aws"
    args = ["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"]
    if identity.role_arn:
        args += ["--role-arn", identity.role_arn]
    exec_config: dict = {"apiVersion": EXEC_API, "command": "aws", "args": args, "interactiveMode": "Never"}
    if identity.profile:
        exec_config["env"] = [{"name": "AWS_PROFILE", "value": identity.profile}]
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name,
                      "cluster": {"server": endpoint, "certificate-authority-data": certificate_authority}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": user}}],
        "current-context": cluster_name,
        "users": [{
            "name": user,
            "user": {"exec": exec_config},
        }],
    }
    return json.dumps(document, sort_keys=True, indent=2)
