"""The policy pack's entry point: the Pulumi CLI runs this file (`python -m pulumi.policy <engine> <this dir>`).

Constructing PolicyPack starts the analyzer server and never returns; the offline engine runs this file with
PolicyPack replaced by a recorder (offline/policy.py), so both use the policies listed here.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The rules import this repository's pure code: the components (k8snet) and the offline engine's checks.
for path in (ROOT / "components", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policypack.registry import PACK_NAME, policies  # noqa: E402

PolicyPack(name=PACK_NAME, policies=policies(), enforcement_level=EnforcementLevel.MANDATORY)
