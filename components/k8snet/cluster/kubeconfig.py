"""The kubeconfig the Kubernetes provider (and a user's kubectl) uses for an EKS cluster.

Tokens come from ``aws eks get-token`` at use time (exec credential plugin), so the file holds no
credential; it is still exported as a secret because it names the endpoint and carries the CA.
"""

from __future__ import annotations

import json

EXEC_API = "client.authentication.k8s.io/v1beta1"  # what `aws eks get-token` emits


def kubeconfig(cluster_name: str, endpoint: str, certificate_authority: str, region: str) -> str:
    user = f"{cluster_name}-aws"
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name,
                      "cluster": {"server": endpoint, "certificate-authority-data": certificate_authority}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": user}}],
        "current-context": cluster_name,
        "users": [{
            "name": user,
            "user": {"exec": {
                "apiVersion": EXEC_API,
                "command": "aws",
                "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region,
                         "--output", "json"],
                "interactiveMode": "Never",
            }},
        }],
    }
    return json.dumps(document, sort_keys=True, indent=2)
