"""What ``python -m offline`` writes besides its text report, for machines and for people:

- ``--json``: one JSON document on stdout (resources, outputs, checks, flows, the policy pack's findings); the
  text report goes to stderr then;
- ``--render-dir DIR``: every Kubernetes object the program sends, one kubectl-appliable YAML file each
  (numbered in registration order, so ``kubectl apply -f DIR`` creates namespaces first), secrets redacted;
- ``--diagram FILE``: the network diagram (offline/diagram.py) as .svg or .png (or .dot, its source);
- ``--policy-pack DIR``: the pack's policies over the run (offline/policy.py); a mandatory violation fails it.

Progress lines go to stderr while a long run works.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime import rpc

from .harness.engine import RunResult
from .kube.api_server import _whole_numbers, is_api_object, unwrap_secrets

REDACTED = "REDACTED"
_START = time.monotonic()


def progress(message: str) -> None:
    print(f"[{time.monotonic() - _START:5.1f}s] {message}", file=sys.stderr, flush=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout (text report on stderr)")
    parser.add_argument("--render-dir", type=Path, metavar="DIR",
                        help="write every Kubernetes object as kubectl-appliable YAML (secrets redacted)")
    parser.add_argument("--diagram", type=Path, metavar="FILE", action="append", default=[],
                        help="write the network diagram (.svg, .png, or .dot for its source); repeatable")
    parser.add_argument("--policy-pack", type=Path, metavar="DIR", help="run a Pulumi policy pack over the run")
    parser.add_argument("--policy-pack-config", type=Path, metavar="FILE",
                        help="the pack's config (JSON: policy name -> settings), as pulumi's flag of that name")
    parser.add_argument("--preview-unknowns", action="store_true",
                        help="show the pack the resources as a first preview sees them (computed values unknown)")


def redact(value: Any) -> Any:
    """Plain data with every secret replaced: the JSON and YAML never hold a secret's value."""
    if rpc.is_rpc_secret(value):
        return REDACTED
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return _whole_numbers(value)


def kube_manifest(inputs: dict) -> dict:
    """The object as the provider sends it, secrets redacted. A Secret keeps its keys with every value redacted
    (base64 under ``data``), so the file still applies."""
    obj = redact(inputs)
    if obj.get("kind") == "Secret":
        for key, placeholder in (("data", base64.b64encode(REDACTED.encode()).decode()), ("stringData", REDACTED)):
            values = unwrap_secrets(inputs.get(key))
            if isinstance(values, dict):
                obj[key] = {k: placeholder for k in values}
    return obj


def render_dir(result: RunResult, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    objects = [r for r in result.resources if is_api_object(r.type)]
    for i, record in enumerate(objects, 1):
        obj = kube_manifest(record.inputs)
        meta = obj.get("metadata") or {}
        slug = re.sub(r"[^a-z0-9.-]+", "-", "-".join(p for p in (obj.get("kind"), meta.get("namespace"), meta.get("name")) if p).lower())
        path = directory / f"{i:03d}-{slug.strip('-')}.yaml"
        path.write_text(yaml.safe_dump(obj, sort_keys=True, default_flow_style=False))
        written.append(path)
    return written


def document(result: RunResult, problems: list[str], flows: list[dict], pack_report=None) -> dict:
    """The run as one JSON-able document (sorted keys when dumped)."""
    doc = {
        "stack": result.config.stack,
        "resources": [{"urn": r.urn, "type": r.type, "name": r.name, "parent": r.parent, "custom": r.custom,
                       "inputs": redact(r.inputs), "dependencies": r.dependencies} for r in result.resources],
        "outputs": redact(result.exports),
        "checks": {"ok": not problems, "problems": problems},
        "flows": flows,
    }
    if pack_report is not None:
        doc["policies"] = {"pack": pack_report.pack, "policies": pack_report.policies,
                           "violations": [vars(v) for v in pack_report.violations],
                           "unknown": [vars(v) for v in pack_report.unknown]}
    return doc


def flow_rows(objects, namespace: str, vpc_cidr: str) -> list[dict]:
    from .checks import app

    return [{"from": f.src.name, "to": f.dst.name, "port": f.port, "protocol": f.protocol,
             "expected": "allow" if f.expected else "deny", "policy": "allow" if got else "deny", "why": f.why}
            for f, got in app.flow_results(objects, namespace, vpc_cidr)]


def verification_rows(verification) -> list[dict]:
    """The hop-by-hop flow table (offline/flows): each flow's promise, verdict and deciding hop."""
    rows = []
    for r in verification.results:
        case = r.deciding
        rows.append({"flow": r.flow.name, "what": r.flow.what, "promise": "allow" if r.flow.promise else "deny",
                     "verdict": r.verdict, "holds": r.holds, "placements": r.total,
                     "deciding": str(case.trace.decisive) if case else ""})
    return rows


def finish(args, result: RunResult, engine, problems: list[str], stdout, verification=None) -> int:
    """The extra outputs of one successful run; 1 when the policy pack has a mandatory violation."""
    status = 0
    pack_report = None
    if args.policy_pack:
        from .policy import run_pack

        progress(f"running policy pack {args.policy_pack}")
        config = json.loads(args.policy_pack_config.read_text()) if args.policy_pack_config else None
        pack_report = run_pack(args.policy_pack, result, config=config, preview=args.preview_unknowns)
        print("\n" + pack_report.text())
        status = 1 if pack_report.mandatory else 0
    if args.render_dir:
        written = render_dir(result, args.render_dir)
        progress(f"wrote {len(written)} Kubernetes objects to {args.render_dir}")
    for path in args.diagram:
        from .diagram import render

        progress(f"wrote the network diagram to {render(result, path)}")
    if args.json:
        from .checks.stack import stack_config

        cfg = stack_config(result)
        flows = flow_rows(list(engine.kube.objects.values()), cfg.app_namespace, str(cfg.vpc_cidr))
        doc = document(result, problems, flows, pack_report)
        if verification is not None:
            doc["paths"] = verification_rows(verification)
        print(json.dumps(doc, sort_keys=True, indent=1, default=str), file=stdout)
    return status
