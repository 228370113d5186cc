"""AWS's instance-type table (what DescribeInstanceTypes answers: network cards, ENIs, addresses per ENI, memory),
as moto 5.2.5 ships it in ``moto/ec2/resources/instance_types.json.gz``.

Read as data: importing ``moto.ec2.models.instance_types`` runs moto's whole EC2 package (~1 s), which the policy
pack (it sizes kubelet from this table, offline/checks/nodes.py) must not pay at every boot. A process that has
loaded moto's EC2 models already (the engine's) shares moto's copy.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

_MOTO_MODULE = "moto.ec2.models.instance_types"
_RESOURCE = "ec2/resources/instance_types.json.gz"  # what that module loads (moto.utilities.utils.load_resource)


@lru_cache(maxsize=1)
def table() -> dict[str, dict[str, Any]]:
    """Instance type name -> its DescribeInstanceTypes entry."""
    loaded = sys.modules.get(_MOTO_MODULE)
    return loaded.INSTANCE_TYPES if loaded is not None else read()


def read() -> dict[str, dict[str, Any]]:
    """The table from moto's data file."""
    spec = importlib.util.find_spec("moto")  # where moto is installed, without running its __init__
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("moto (its instance-type data) is not installed", name="moto")
    return json.loads(gzip.decompress((Path(spec.origin).parent / _RESOURCE).read_bytes()))
