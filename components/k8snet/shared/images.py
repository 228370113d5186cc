"""Every container image the program sets, pinned by tag *and* digest (``repo:tag@sha256:...``).

The digest is the multi-architecture index (manifest list) digest the tag pointed to when it was
verified, so amd64 and Graviton nodes pull the same release and a re-pushed tag cannot change what
runs (CIS EKS 5.1 / checkov CKV_K8S_43). The runtime pulls by digest; the tag stays for people.

Sources (each digest read from the registry's own record of the tag):
- registry.k8s.io images: the Kubernetes image promoter manifests, kubernetes/k8s.io
  ``registry.k8s.io/images/k8s-staging-kubernetes/images.yaml`` @ecf019a8 (``kubectl``, ``pause``) and
  ``registry.k8s.io/images/k8s-staging-dns/images.yaml`` @3013cdf1 (``k8s-dns-node-cache``): the
  digest -> tags maps the promoter publishes to registry.k8s.io.
  kubectl is v1.34.0, not a 1.35 patch: the newest promoter manifest we could read ends at
  v1.35.0-alpha.0, and no v1.35.x digest could be confirmed from an authoritative source. kubectl
  is supported one minor version either side of the API server (Kubernetes version skew policy),
  and the assigner only sends a merge patch to a Node. node-cache is 1.26.4 for the same reason
  (the newest tag in the promoter manifest; 1.26.7's digest is in none we could read).
- docker.io official images: docker-library/repo-info ``repos/<name>/remote/<tag>.md`` (the index
  digest of each tag as Docker Hub serves it): mysql 8.4.11 @0f0c69aa, nginx 1.30.4 @08441358,
  python 3.14.7-slim-trixie @a8c9e205.

Official-image tags are rebuilt (base image refreshes) and move to new digests; a pinned digest keeps
the verified build until a maintainer runs ``scripts/refresh_digests.py`` (it asks the registries for
each tag's current digest and rewrites this file; never run by the tests).
"""

MYSQL = "docker.io/library/mysql:8.4.11@sha256:85b9bf2e29cf836ecb8c2a15a935d4ba0c606631dff1dd79531a11983c638f2a"
NGINX = "docker.io/library/nginx:1.30.4@sha256:585d4e63ef9a0c34cbb46fefa3449d16d38bf4a8d3d817e6638962d8b7578696"
PYTHON = "docker.io/library/python:3.14.7-slim-trixie@sha256:ce40764625a4ff50df3548277632e7f96c4e77fe75fa848aae9885476e7df5a4"  # noqa: E501
KUBECTL = "registry.k8s.io/kubectl:v1.34.0@sha256:497d298f891edb7608dfce9dae4bb08dffc4ddcd7f5d24a0512d4bbf33e04f26"
PAUSE = "registry.k8s.io/pause:3.10.1@sha256:278fb9dbcca9518083ad1e11276933a2e96f23de604a3a08cc3c80002767d24c"
NODE_CACHE = "registry.k8s.io/dns/k8s-dns-node-cache:1.26.4@sha256:ab52729d7292fbdf764f21daa7b8ba89fd985ac43cec0a13d035a6942d4c1be8"  # noqa: E501

ALL = (MYSQL, NGINX, PYTHON, KUBECTL, PAUSE, NODE_CACHE)
