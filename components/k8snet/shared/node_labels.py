"""Labels the worker nodes carry, set by kubelet at registration (nodeadm ``--node-labels``).

``k8snet.io/node`` holds the node's stable name from config (node1, node2, ...), so Kubernetes
objects select a node by the name the VPC routes and pod blocks are keyed by, never by its
EC2-assigned hostname. The key is outside the kubernetes.io / k8s.io namespaces that the
NodeRestriction admission plugin reserves, so a kubelet may set it on its own Node.
"""

NODE_NAME_LABEL = "k8snet.io/node"
