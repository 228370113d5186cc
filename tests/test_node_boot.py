"""What every node boots with: kubelet's maxPods and nodeadm's kube-reserved memory sized for the same
number of pods (issue 11, item 9), and a CNI-plugin download with a bounded worst case (item 10)."""

from __future__ import annotations

import math
import re
import shlex
from ipaddress import ip_network

import pytest
from moto.ec2.models.instance_types import INSTANCE_TYPES

from k8snet.cni import cni_plugins
from k8snet.nodes import nodeadm
from offline.checks import nodes as node_checks
from tests.conftest import ROOT

# --- item 10: the download's worst case ---------------------------------------------------------------

OLD_CURL = 'curl -fsSL --retry 10 --retry-connrefused -o /tmp/cni-plugins.tgz "$url"'  # before issue 11
CURL_DEFAULT_CONNECT_TIMEOUT = 300  # curl lib/connect.h DEFAULT_CONNECT_TIMEOUT (ms 300000)
CURL_MAX_BACKOFF = 600  # --retry backoff doubles from 1 s up to 10 minutes (docs/cmdline-opts/retry.md)


def curl_worst_case_seconds(script: str) -> float:
    """The longest every curl in ``script`` can take, from its options (curl's documented semantics):
    each attempt is capped by --max-time (without it a stalled transfer never ends), attempts are
    --retry + 1 with 1, 2, 4... s sleeps (or --retry-delay), and no retry starts after --retry-max-time."""
    total = 0.0
    for line in script.replace("\\\n", " ").splitlines():
        words = shlex.split(line.strip().removeprefix("if ! ").removesuffix("; then"))
        if not words or words[0] != "curl":
            continue
        opts = {w: words[i + 1] if i + 1 < len(words) else "" for i, w in enumerate(words) if w.startswith("--")}
        per_attempt = float(opts["--max-time"]) if "--max-time" in opts else math.inf
        retries = int(opts.get("--retry", 0))
        sleeps = (retries * float(opts["--retry-delay"]) if "--retry-delay" in opts
                  else sum(min(2 ** i, CURL_MAX_BACKOFF) for i in range(retries)))
        worst = (retries + 1) * per_attempt + sleeps
        if "--retry-max-time" in opts:
            worst = min(worst, float(opts["--retry-max-time"]) + per_attempt)
        total += worst
    return total


def test_the_old_download_could_stall_the_join_forever():
    assert curl_worst_case_seconds(OLD_CURL) == math.inf


def test_the_download_gives_up_within_five_minutes_with_a_clear_line():
    script = cni_plugins.install_script()
    worst = curl_worst_case_seconds(script)
    assert 0 < worst <= 300 == cni_plugins.RETRY_MAX_TIME + cni_plugins.MAX_TIME
    assert "--connect-timeout 10" in script  # DNS+TCP+TLS fail fast, not after curl's default 300 s
    assert re.search(r'echo "k8snet: could not download the CNI plugins from \$url within 300 s', script)


# --- item 9: maxPods and nodeadm's reservation --------------------------------------------------------

def _max_pods(instance_type: str, block: str = "10.1.1.0/24") -> int:
    info = INSTANCE_TYPES[instance_type]
    return nodeadm.max_pods(ip_network(block), info["VCpuInfo"]["DefaultVCpus"], info["MemoryInfo"]["SizeInMiB"])


DOC = ROOT / "docs" / "cluster.md"


def test_the_figures_per_instance_type_are_the_documented_ones():
    """docs/cluster.md's table: instance type | vCPUs | memory | maxPods | kube-reserved memory | ENI figure."""
    rows = re.findall(r"^\| `([a-z0-9]+\.[a-z0-9]+)` \| (\d+) \| (\d+) MiB \| (\d+) \| (\d+) MiB \| (\d+) \|$",
                      DOC.read_text(), re.MULTILINE)
    assert len(rows) >= 6
    for name, vcpus, memory, pods, reserved, eni in rows:
        assert int(eni) == node_checks.nodeadm_max_pods(name, None)  # what nodeadm would reserve for alone
        info = INSTANCE_TYPES[name]
        assert (int(vcpus), int(memory)) == (info["VCpuInfo"]["DefaultVCpus"], info["MemoryInfo"]["SizeInMiB"])
        assert int(pods) == _max_pods(name)
        assert int(reserved) == nodeadm.kube_reserved_memory_mib(int(pods))


@pytest.mark.parametrize("instance_type,block,expected", [
    ("t3.medium", "10.1.1.0/24", 69),  # memory: 11 x 69 + 255 = 1014 MiB of 4096
    ("m5.large", "10.1.1.0/24", 110),  # EKS's ceiling below 30 vCPUs
    ("m5.8xlarge", "10.1.1.0/24", 250),  # above 30 vCPUs
    ("m5.8xlarge", "10.1.1.0/26", 61),  # a /26 holds 64 addresses
])
def test_max_pods_is_the_smallest_of_addresses_cpu_ceiling_and_memory(instance_type, block, expected):
    assert _max_pods(instance_type, block) == expected


def _node_config(pods: int, expression: str | None) -> dict:
    kubelet = {"config": {"maxPods": pods}}
    if expression is not None:
        kubelet["maxPodsExpression"] = expression
    return {"spec": {"kubelet": kubelet}}


def test_the_engine_check_catches_the_old_node_config():
    # Before issue 11: maxPods 253 and no expression, so nodeadm reserved for its ENI default (17 pods).
    problems = node_checks.kubelet_problems("workers-node1", "t3.medium", _node_config(253, None))
    assert problems == ["workers-node1: kubelet admits 253 pods but nodeadm reserves kube-reserved memory for 17 "
                        "(442 MiB, 11 MiB a pod + 255); set maxPodsExpression to the same figure"]
    # Agreeing but too many for the memory: 253 pods reserve 3038 MiB of a t3.medium's 4096.
    assert "more than a quarter" in node_checks.kubelet_problems("n", "t3.medium", _node_config(253, "253"))[0]
    assert node_checks.kubelet_problems("n", "t3.medium", _node_config(69, "69")) == []


def test_every_dev_node_boots_with_one_figure(dev_stack):
    result, _ = dev_stack
    assert node_checks.check_run(result) == []
    for record in result.of_type(node_checks.INSTANCE):
        kubelet = nodeadm.node_config_of(record.inputs["userData"])["spec"]["kubelet"]
        assert kubelet["maxPodsExpression"] == str(kubelet["config"]["maxPods"]) == str(_max_pods("t3.medium"))
        assert len(record.inputs["userData"].encode()) <= 16384  # EC2's limit, raw (the field table checks it too)
