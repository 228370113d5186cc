#!/usr/bin/env python3
"""Refresh the image digests in components/k8snet/shared/images.py from the registries (maintainers only).

    python3 scripts/refresh_digests.py            # show what would change
    python3 scripts/refresh_digests.py --write    # rewrite images.py

For each pinned ``registry/repository:tag@sha256:<digest>`` it asks the registry for the tag's current
index digest (Docker Registry HTTP API v2 / OCI distribution spec: ``HEAD /v2/<repository>/manifests/<tag>``
with the index media types accepted; the answer's ``Docker-Content-Digest`` header) and replaces the
digest when it moved. Tags are never changed: bumping a version is a reviewed edit of images.py.

Needs network access to the registries; the test suite never runs it (tests/test_images.py only checks
its pure helpers). Standard library only, so it runs without the project's venv.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.request
from pathlib import Path

IMAGES_FILE = Path(__file__).resolve().parents[1] / "components" / "k8snet" / "shared" / "images.py"
PINNED = re.compile(r'"(?P<ref>(?P<registry>[a-z0-9.-]+)/(?P<repository>[a-z0-9._/-]+):(?P<tag>[\w.-]+))'
                    r'@(?P<digest>sha256:[0-9a-f]{64})"')
# An index (multi-arch) first, a single manifest only if the tag has no index.
ACCEPT = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])
# Docker Hub serves the registry API at registry-1.docker.io and wants an anonymous pull token.
REGISTRY_HOSTS = {"docker.io": "registry-1.docker.io"}
DOCKER_TOKEN_URL = "https://auth.docker.io/token?service=registry.docker.io&scope=repository:{repository}:pull"


def pinned_images(text: str) -> list[dict[str, str]]:
    """Every pinned image reference in ``text`` (registry, repository, tag, digest, ref)."""
    return [m.groupdict() for m in PINNED.finditer(text)]


def replace_digest(text: str, ref: str, new_digest: str) -> str:
    """``text`` with the digest pinned after ``ref`` (registry/repository:tag) replaced."""
    pattern = re.compile(re.escape(f'"{ref}@') + r"sha256:[0-9a-f]{64}\"")
    if not pattern.search(text):
        raise KeyError(f"{ref} is not pinned in the text")
    return pattern.sub(f'"{ref}@{new_digest}"', text)


def _token(registry: str, repository: str) -> str | None:
    if registry != "docker.io":
        return None  # registry.k8s.io serves anonymous pulls without a token
    with urllib.request.urlopen(DOCKER_TOKEN_URL.format(repository=repository), timeout=30) as resp:
        return json.load(resp)["token"]


def current_digest(registry: str, repository: str, tag: str) -> str:
    """The digest ``registry/repository:tag`` resolves to now (network)."""
    host = REGISTRY_HOSTS.get(registry, registry)
    request = urllib.request.Request(f"https://{host}/v2/{repository}/manifests/{tag}", method="HEAD",
                                     headers={"Accept": ACCEPT})
    token = _token(registry, repository)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as resp:
        digest = resp.headers.get("Docker-Content-Digest")
    if not digest or not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        raise RuntimeError(f"{registry}/{repository}:{tag}: the registry sent no usable digest ({digest!r})")
    return digest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite {IMAGES_FILE.name} (default: report only)")
    args = parser.parse_args(argv)
    text = original = IMAGES_FILE.read_text()
    for image in pinned_images(text):
        digest = current_digest(image["registry"], image["repository"], image["tag"])
        state = "unchanged" if digest == image["digest"] else f"moved -> {digest}"
        print(f"{image['ref']}: {image['digest']} {state}")
        text = replace_digest(text, image["ref"], digest)
    if text != original and args.write:
        IMAGES_FILE.write_text(text)
        print(f"rewrote {IMAGES_FILE}; review the diff, rerun the tests and note the new source in its docstring")
    return 0


if __name__ == "__main__":
    sys.exit(main())
