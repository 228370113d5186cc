"""Where moto 5.2.5 spends time the simulation does not need, and the cheaper equivalent the engine installs.

Each replacement returns what moto's own code returns (tests/test_moto_speedups.py compares them); only the
cost changes. ``install()`` is idempotent; ``OfflineEngine.__enter__`` calls it.

- KMS: ``Key.__init__`` generates an RSA-2048 private key for every key, symmetric ones included: 50-300 ms of
  prime search each, twice per dev run (the cluster's secrets key and EC2's default EBS key). Only Sign, Verify
  and GetPublicKey read it, and KMS allows those on asymmetric keys only: the key is generated on first use.
- EC2: ``get_instance`` (every attach_volume, route to an instance, attribute read) scans ``all_instances()``,
  which shallow-copies every reservation first: quadratic in the node count (~1 s of copies at 500 nodes). The
  replacement scans the same reservations, in the same order, without copying them.
- EC2: a resource's ``get_tags`` (every tag filter, every DescribeInstances) runs DescribeTags with a
  ``resource-id`` filter, a regex match over every tag of the account: quadratic again (1.8 s of a 300-node
  run's checks). The replacement reads the resource's own entry of the same tag store; an id filter is an
  exact match (``fnmatch.translate``; ids hold no wildcards), so the answer is the same.
- Regions of a service (every backend a run creates, and moto's imports): offline/aws/region_lists.py.
- EKS: ``validate_role_arn`` (every CreateCluster, CreateNodegroup) makes a new boto3 ``Session`` to list the
  partitions, which parses the 1.3 MB endpoints file again (30 ms); moto's own cached session answers the same.
"""

from __future__ import annotations

import moto.eks.utils
import moto.kms.models
from moto.core.base_backend import AccountSpecificBackend
from moto.ec2.exceptions import InvalidInstanceIdError
from moto.ec2.models import EC2Backend
from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix
from moto.kms.utils import generate_private_key

_installed = False


class PrivateKeyOnFirstUse:
    """Stands in for ``moto.kms.utils.generate_private_key(key_spec)``'s result until something reads it."""

    def __init__(self, key_spec: str):
        self._key_spec = key_spec
        self._key = None

    def __getattr__(self, name: str):
        if name.startswith("__"):  # copy/pickle probing a bare instance: not the key's to answer
            raise AttributeError(name)
        if self._key is None:
            self._key = generate_private_key(self._key_spec)
        return getattr(self._key, name)

    def __deepcopy__(self, memo):
        """A copied account (OfflineEngine.fork) gets the same key: the generated one (immutable), or a stand-in."""
        return self if self._key is not None else PrivateKeyOnFirstUse(self._key_spec)


def get_instance(self: EC2Backend, instance_id: str):
    for reservation in self.reservations.values():
        for instance in reservation.instances:
            if instance.id == instance_id:
                return instance
    raise InvalidInstanceIdError(instance_id)


def get_tags(self: TaggedEC2Resource) -> list[dict[str, str]]:
    if not self.id:
        return []
    resource_type = EC2_PREFIX_TO_RESOURCE.get(get_prefix(self.id), "")
    own = self.ec2_backend.tags.get(self.id) or {}  # .get: the store is a defaultdict
    return [{"resource_id": self.id, "key": k, "value": v, "resource_type": resource_type} for k, v in own.items()]


def _moto_session():
    return AccountSpecificBackend.get_session()


def install() -> None:
    global _installed
    if _installed:
        return
    moto.kms.models.generate_private_key = PrivateKeyOnFirstUse  # the name Key.__init__ calls
    EC2Backend.get_instance = get_instance
    TaggedEC2Resource.get_tags = get_tags
    moto.eks.utils.Session = _moto_session  # the name validate_role_arn calls
    _installed = True
