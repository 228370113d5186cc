"""URNs are users' state: a refactor that renames a resource, changes a type token or re-parents a
resource would make `pulumi up` replace it. The committed snapshots hold every URN of the dev stack and
of its flannel and node-local-dns variants; a change to them must be deliberate (and come with aliases).

Regenerate after a deliberate change: `python -m tests.test_urn_snapshot` (prints what changed).
"""

from __future__ import annotations

import sys

import pytest

from tests.conftest import ROOT

SNAPSHOTS = ROOT / "tests" / "fixtures" / "urns"
VARIANTS = {"dev": {}, "flannel": {"cni": "flannel"}, "node-local-dns": {"nodeLocalDns": True}}


def urns(result) -> list[str]:
    return sorted(r.urn for r in result.records.values())


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_urns_match_the_committed_snapshot(stack_run, variant):
    result, _ = stack_run(VARIANTS[variant])
    assert result.ok, result.error
    expected = (SNAPSHOTS / f"{variant}.txt").read_text().split()
    got = urns(result)
    assert got == expected, {"added": sorted(set(got) - set(expected)), "removed": sorted(set(expected) - set(got))}


if __name__ == "__main__":  # regenerate the snapshots
    from offline import OfflineEngine

    for variant, config in sorted(VARIANTS.items()):
        with OfflineEngine(ROOT, "dev", config) as engine:
            result = engine.run()
            if not result.ok:
                sys.exit(f"{variant}: {result.error}")
            path = SNAPSHOTS / f"{variant}.txt"
            old = set(path.read_text().split()) if path.exists() else set()
            new = urns(result)
            path.write_text("\n".join(new) + "\n")
            print(f"{variant}: +{len(set(new) - old)} -{len(old - set(new))}")
