"""The reference CNI plugins flannel's CNI config chains to (bridge, host-local, portmap).

The flannel chart installs only the `flannel` binary, and the AL2023 EKS AMI ships an empty
/opt/cni/bin (the VPC CNI brings its own plugins). So each node installs the pinned
containernetworking/plugins release at boot, checksum-verified. Calico ships the plugins it
calls and does not need them, but every node gets them whatever the CNI: switching CNI must not
change the instances' user data.

Checksums of the release archives (containernetworking/plugins v1.7.1, the .sha256 files of the
GitHub release), as pinned by public infrastructure code we cross-checked.
"""

from __future__ import annotations

VERSION = "v1.7.1"
SHA256 = {
    "amd64": "1a28a0506bfe5bcdc981caf1a49eeab7e72da8321f1119b7be85f22621013098",
    "arm64": "119fcb508d1ac2149e49a550752f9cd64d023a1d70e189b59c476e4d2bf7c497",
}
PLUGINS = ("bridge", "host-local", "loopback", "portmap")
URL = "https://github.com/containernetworking/plugins/releases/download/{v}/cni-plugins-linux-{arch}-{v}.tgz"

# The download is bounded: cloud-final runs this script and nodeadm-run.service (which starts kubelet)
# waits for cloud-final (amazon-eks-ami templates/al2023/runtime/rootfs/etc/systemd/system/
# nodeadm-run.service: After=cloud-final.service), so a stalled download delays the node's join. curl
# (docs/cmdline-opts, curl 8.x): --connect-timeout caps DNS+TCP+TLS, --max-time each attempt, --retry
# retries transient errors with 1 s, 2 s, 4 s... backoff, and --retry-max-time starts no retry after that
# many seconds. Worst case: RETRY_MAX_TIME + MAX_TIME = 300 s, then a clear line in cloud-init's log.
CONNECT_TIMEOUT = 10
MAX_TIME = 120  # the archive is tens of MB: 120 s allows well under 1 MB/s, far below a NAT gateway's rate
RETRIES = 5
RETRY_MAX_TIME = 180


def install_script() -> str:
    """A boot script (cloud-init runs it; nodes reach GitHub through the NAT gateways)."""
    cases = "\n".join(
        f"  {uname}) arch={arch} sum={SHA256[arch]} ;;" for uname, arch in (("x86_64", "amd64"), ("aarch64", "arm64"))
    )
    members = " ".join(f"./{p}" for p in PLUGINS)
    return f"""#!/bin/bash
# Reference CNI plugins {VERSION} for flannel (k8snet/cni/cni_plugins.py).
set -euo pipefail
case "$(uname -m)" in
{cases}
  *) echo "unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
url="{URL.format(v=VERSION, arch='${arch}')}"
if ! curl -fsSL --connect-timeout {CONNECT_TIMEOUT} --max-time {MAX_TIME} --retry {RETRIES} --retry-max-time {RETRY_MAX_TIME} \\
    --retry-connrefused -o /tmp/cni-plugins.tgz "$url"; then
  echo "k8snet: could not download the CNI plugins from $url within {RETRY_MAX_TIME + MAX_TIME} s;" \\
    "the node joins without bridge/host-local/portmap (flannel pods cannot start on it)" >&2
  exit 1
fi
echo "$sum  /tmp/cni-plugins.tgz" | sha256sum -c -
mkdir -p /opt/cni/bin
tar -C /opt/cni/bin -xzf /tmp/cni-plugins.tgz {members}
rm -f /tmp/cni-plugins.tgz
"""
