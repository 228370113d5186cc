"""``python -m k8snet.doctor --stack dev``: verify a deployed stack, read-only.

It reads the stack's outputs and config (``inputs``: the Pulumi CLI, or files), then checks the live account
with boto3 (``aws``: pod routes present, active and on each node's current primary interface, source/dest check
off, route and Elastic IP counts against the live quotas, NAT gateways available, EKS add-ons ACTIVE with our
Corefile, load balancer targets healthy on every node) and the cluster through the Kubernetes API (``kube``:
nodes Ready with their pod block as podCIDR or IPPool). Every client is read-only by construction
(``readonly``). ``findings`` renders the table with a remedy per failure, or JSON.

Needs the ``doctor`` extra (``pip install "k8snet[doctor]"``: boto3 and kubernetes); nothing here is imported by
``import k8snet``.
"""
