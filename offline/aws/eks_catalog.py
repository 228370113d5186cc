"""What EKS offers, as far as the project has evidence (docs/cluster.md lists the sources): Kubernetes versions,
add-on versions per cluster version, and add-on configuration schemas. The schemas are the parts of
`aws eks describe-addon-configuration` output the program uses; unknown keys are refused as EKS refuses them
("Json schema validation failed"). Plain data: the engine's EKS (offline/aws/eks.py) and the constraint table
(offline/aws/constraints.py, which the policy pack runs without moto) both read it.
"""

from __future__ import annotations

SUPPORTED_VERSIONS = ("1.29", "1.30", "1.31", "1.32", "1.33", "1.34", "1.35")

ADDON_VERSIONS = {
    "1.35": {
        "kube-proxy": {"v1.35.3-eksbuild.2", "v1.35.3-eksbuild.13"},
        "coredns": {"v1.13.2-eksbuild.4", "v1.14.2-eksbuild.4"},
        "aws-ebs-csi-driver": {"v1.65.0-eksbuild.1", "v1.66.0-eksbuild.1"},
    },
}
_OBJ = {"type": "object"}
ADDON_SCHEMAS = {
    "kube-proxy": {
        "type": "object", "additionalProperties": False,
        "properties": {
            "mode": {"enum": ["iptables", "ipvs"]},
            "ipvs": {"type": "object", "properties": {"scheduler": {"type": "string"}}, "additionalProperties": False},
            "resources": _OBJ, "podAnnotations": _OBJ, "podLabels": _OBJ,
        },
    },
    "coredns": {
        "type": "object", "additionalProperties": False,
        "properties": {
            "corefile": {"type": "string"}, "replicaCount": {"type": "integer"}, "computeType": {"type": "string"},
            "tolerations": {"type": "array"}, "nodeSelector": _OBJ, "affinity": _OBJ, "autoScaling": _OBJ,
            "podDisruptionBudget": _OBJ, "resources": _OBJ, "topologySpreadConstraints": {"type": "array"},
            "podAnnotations": _OBJ, "podLabels": _OBJ,
        },
    },
    "aws-ebs-csi-driver": {"type": "object"},
}
