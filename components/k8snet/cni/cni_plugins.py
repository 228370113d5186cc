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


def install_script() -> str:
    """A boot script (cloud-init runs it; nodes reach GitHub through the NAT gateways)."""
    cases = "\n".join(
        f"  {uname}) arch={arch} sum={SHA256[arch]} ;;" for uname, arch in (("x86_64", "amd64"), ("aarch64", "arm64"))
    )
    members = " ".join(f"./{p}" for p in PLUGINS)
    return f"""#!/bin/bash
# Reference CNI plugins {VERSION} for flannel (components/cni_plugins.py).
set -euo pipefail
case "$(uname -m)" in
{cases}
  *) echo "unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
url="{URL.format(v=VERSION, arch='${arch}')}"
curl -fsSL --retry 10 --retry-connrefused -o /tmp/cni-plugins.tgz "$url"
echo "$sum  /tmp/cni-plugins.tgz" | sha256sum -c -
mkdir -p /opt/cni/bin
tar -C /opt/cni/bin -xzf /tmp/cni-plugins.tgz {members}
rm -f /tmp/cni-plugins.tgz
"""
