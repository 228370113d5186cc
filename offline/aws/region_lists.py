"""The regions of a service, answered without loading the service's model.

botocore's ``Session.get_available_regions`` loads a service's whole model (EC2's is 1.3 MB of JSON, 40 ms) for
one field, ``metadata.endpointPrefix``, and every new ``Session`` loads it again. moto 5.2.5 asks three times while
``moto.ec2.models`` imports (three new sessions: ~0.2 s of every process that uses moto) and again for every
backend it creates. For the services in ``ENDPOINT_PREFIXES`` the prefix is known and the endpoint resolver answers
directly; every answer is kept for the process (region lists are data). The result is botocore's own
(tests/test_engine_costs.py compares them). ``offline/aws/__init__.py`` installs it, before anything imports moto.
"""

from __future__ import annotations

from functools import lru_cache

import botocore.session

# Service name -> its model's metadata.endpointPrefix (botocore data; tests/test_engine_costs.py compares).
ENDPOINT_PREFIXES = {"ec2": "ec2", "eks": "eks", "iam": "iam", "kms": "kms", "logs": "logs", "s3": "s3",
                     "sts": "sts", "elbv2": "elasticloadbalancing", "ssm": "ssm"}
BOTOCORE_GET_AVAILABLE_REGIONS = botocore.session.Session.get_available_regions  # botocore's own
_installed = False


@lru_cache(maxsize=1)
def session() -> botocore.session.Session:
    """One session for the process's region questions: its loader parses the 1.3 MB endpoints file once."""
    return botocore.session.Session()


@lru_cache(maxsize=1)
def _resolver():
    return session()._get_internal_component("endpoint_resolver")


_known: dict[tuple[str, str, bool], tuple[str, ...]] = {}


def get_available_regions(self, service_name, partition_name="aws", allow_non_regional=False):
    """``botocore.session.Session.get_available_regions``, kept per process."""
    key = (service_name, partition_name, bool(allow_non_regional))
    if key not in _known:
        prefix = ENDPOINT_PREFIXES.get(service_name)
        _known[key] = tuple(BOTOCORE_GET_AVAILABLE_REGIONS(self, *key) if prefix is None else
                            _resolver().get_available_endpoints(prefix, partition_name, allow_non_regional))
    return list(_known[key])


def install() -> None:
    global _installed
    if not _installed:
        botocore.session.Session.get_available_regions = get_available_regions
        _installed = True
