"""k8s-networking: config -> components -> exports.

The stack is the documents' Kubernetes network on AWS; what it registers, and in which order, is told by
``k8snet.stack.wiring.deploy``. Everything that can refuse the config is checked by ``load_plan`` first.
"""

import pulumi

from k8snet.config import load_plan
from k8snet.stack import deploy

plan = load_plan()  # the config, the region and its zones: every check before the first resource
stack = deploy(plan)  # network, cluster, nodes and pod routes, CNI, add-ons, load balancer controller, DNS, app, ingress
for name, value in stack.outputs().items():
    pulumi.export(name, value)
