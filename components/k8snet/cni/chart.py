"""What Calico and Flannel install alike: a namespace that admits privileged pods and a Helm release in it
that is done once its objects are accepted (the CNI's pods cannot be Ready before the CNI runs)."""

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from ..shared import options

PRIVILEGED = {"pod-security.kubernetes.io/enforce": "privileged"}  # the CNI DaemonSets are privileged


def install(parent: pulumi.Resource, release_resource: str, *, namespace: str, labels: Mapping[str, str],
            release: str, chart: str, version: str, repo: str, values: dict,
            after: Sequence[pulumi.Resource]) -> tuple[k8s.core.v1.Namespace, k8s.helm.v3.Release]:
    """The namespace ``<parent>-namespace`` and the release ``release_resource``, both waiting for ``after``."""
    name = parent._name  # noqa: SLF001 -- the component's resource name, its children's prefix
    ns = k8s.core.v1.Namespace(f"{name}-namespace", metadata={"name": namespace, "labels": {**labels, **PRIVILEGED}},
                               opts=options.child(parent, after))
    rel = k8s.helm.v3.Release(
        release_resource,
        name=release,
        chart=chart,
        version=version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=repo),
        namespace=ns.metadata["name"],
        values=values,
        # Helm creates the chart's CRDs before its templates whatever the wait setting. Waiting would
        # block on the CNI's pods, which need registered nodes, and nodes are NotReady until the CNI
        # runs: the release is done once its objects are accepted.
        skip_await=True,
        opts=options.child(parent, after),
    )
    return ns, rel
