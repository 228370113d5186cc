"""Flow verification: does a packet get from A to B through every layer of the stack at once?

``extract`` reads a finished run into a plain model (EC2 from moto, EKS, the Helm releases, the API
server's objects); ``verify`` walks every promised flow and denial hop by hop for every placement
(``walk``: security groups, source/dest check, network ACLs, route tables, the CNI's routing and
tunnels, kube-proxy's DNAT and SNAT, NetworkPolicy, the listening port); ``mutations`` changes one piece
of state at a time. docs/flows.md describes the model, what it covers and what it does not.
"""

from .extract import extract, from_engine
from .model import Model
from .verify import Verification, verify

__all__ = ["Model", "Verification", "extract", "from_engine", "verify"]
