"""Verify a deployed stack, read-only: its pod routes, nodes, quotas, NAT gateways, add-ons and targets.

    python -m k8snet.doctor --stack dev                  # outputs and config from the Pulumi CLI
    python -m k8snet.doctor --outputs out.json --config-file Pulumi.dev.yaml --json

Exit status like the preview: 0 all checks pass (warnings allowed); 1 a check failed or could not run; 2 the
stack's outputs or config could not be read. Progress goes to stderr; the table (or --json) to stdout.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import findings as f
from .inputs import InputError, stack_config, stack_outputs


def _progress(start: float, message: str) -> None:
    print(f"[{time.monotonic() - start:5.1f}s] {message}", file=sys.stderr, flush=True)


def run(outputs: dict, cfg, aws_client, kube_apis=None, progress=lambda message: None) -> list[f.Finding]:
    """Every check; a check group that cannot read what it needs becomes one warning, not a crash."""
    from . import aws, kube

    found: list[f.Finding] = []
    for check in aws.CHECKS:
        progress(f"AWS: {check.__name__.replace('_', ' ')}")
        try:
            found += check(aws_client, outputs, cfg)
        except Exception as exc:  # noqa: BLE001 -- reported as "could not check", with the reason
            if type(exc).__name__ == "ReadOnlyViolation":
                raise
            found.append(f.error(check.__name__.replace("_", " "), "-", f"could not check: {exc}",
                                 "the doctor needs the read permissions of docs/ci.md (ReadOnlyAccess and "
                                 "servicequotas:GetServiceQuota)"))
    if kube_apis is None:
        found.append(f.skip("nodes", "-", "no Kubernetes API (--no-kube)"))
        return found
    for check in kube.CHECKS:
        progress(f"Kubernetes: {check.__name__}")
        try:
            found += check(*kube_apis, outputs, cfg)
        except Exception as exc:  # noqa: BLE001
            if type(exc).__name__ == "ReadOnlyViolation":
                raise
            found.append(f.error(check.__name__, "-", f"could not check: {exc}",
                                 "the kubeconfig's user needs list on nodes and ippools (and the aws CLI for its "
                                 "exec plugin)"))
    return found


def kube_apis(kubeconfig: dict, calls: list[str] | None = None):
    """CoreV1Api and CustomObjectsApi over a GET-only client built from a kubeconfig document."""
    from kubernetes import client, config

    from .readonly import kube_api_client

    api = kube_api_client(config.new_client_from_config_dict(config_dict=kubeconfig), calls)
    return client.CoreV1Api(api_client=api), client.CustomObjectsApi(api_client=api)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m k8snet.doctor", description=__doc__.split("\n")[0])
    parser.add_argument("--stack", "-s", default="dev", help="stack name (default dev)")
    parser.add_argument("--outputs", type=Path, help="the stack's outputs as JSON (pulumi stack output --json "
                                                      "--show-secrets); default: ask the Pulumi CLI")
    parser.add_argument("--config-file", type=Path, help="the stack's config file (Pulumi.<stack>.yaml); default: "
                                                          "ask the Pulumi CLI")
    parser.add_argument("--kubeconfig", type=Path, help="kubeconfig file (default: the stack's kubeconfig output)")
    parser.add_argument("--no-kube", action="store_true", help="skip the Kubernetes API checks")
    parser.add_argument("--json", action="store_true", help="findings as JSON")
    args = parser.parse_args(argv)
    start = time.monotonic()
    try:
        _progress(start, f"reading stack {args.stack}'s outputs and config")
        outputs = stack_outputs(args.stack, args.outputs)
        cfg = stack_config(args.stack, args.config_file)
    except (InputError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    import boto3

    from .readonly import aws_clients

    session = boto3.Session(region_name=outputs.get("region"))
    apis = None
    if not args.no_kube:
        document = args.kubeconfig.read_text() if args.kubeconfig else outputs.get("kubeconfig", "")
        import yaml

        apis = kube_apis(yaml.safe_load(document) if isinstance(document, str) else document)
    found = run(outputs, cfg, aws_clients(session), apis, lambda m: _progress(start, m))
    print(f.to_json(found) if args.json else f.table(found))
    return f.exit_code(found)


if __name__ == "__main__":
    sys.exit(main())
