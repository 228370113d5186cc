"""Offline preview: run the stack in-process against moto and show what `pulumi up` would create.

    python -m offline                         # the dev stack
    python -m offline --stack dev --config availabilityZones=3 --config 'nodes={node1: {index: 1}}'
    python -m offline --policy-pack policypack --json --render-dir out/k8s --diagram docs/network-dev.svg
    python -m offline flows --from webapp@node3 --to mysql-0   # one path, hop by hop (docs/flows.md)

Exit status: 0 all good; 1 AWS would reject something, a cross-object check failed, a promised flow
fails or a promised denial is open, or the program crashed; 2 the stack configuration is invalid.
``flows --from X --to Y``: 0 the path is allowed, 1 it is denied, 2 X or Y names nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from .harness import gc_policy

if __name__ == "__main__":
    gc_policy.quiet_imports()  # a one-shot process: see harness/gc_policy.py

from . import checks, flows, outputs, report  # noqa: E402
from .checks.stack import stack_config  # noqa: E402
from .flows.explain import BadPath, explain, render  # noqa: E402
from .harness.engine import OfflineEngine  # noqa: E402
from .harness.project import ProjectError, parse_yaml  # noqa: E402

if __name__ == "__main__":
    gc_policy.after_imports()


def _parse_setting(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    try:
        return key, parse_yaml(value, f"--config {key}") if value else ""  # YAML 1.2, as stack files
    except ProjectError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline", description=__doc__.split("\n")[0])
    parser.add_argument("command", nargs="?", default="preview", choices=["preview", "flows", "dataplane"],
                        help="preview (default); flows: the flow table, or one path with --from and --to; "
                             "dataplane: the flows through the network emulated in the kernel (root only)")
    parser.add_argument("--stack", "-s", default="dev", help="stack name: reads Pulumi.<stack>.yaml (default dev)")
    parser.add_argument("--config", "-c", action="append", type=_parse_setting, default=[], metavar="KEY=VALUE",
                        help="override a config value (YAML value; key without namespace means this project)")
    parser.add_argument("--cwd", type=Path, default=Path.cwd(), help="project directory (default: current)")
    path = parser.add_argument_group("flows", "explain one path hop by hop (docs/flows.md lists the names)")
    path.add_argument("--from", dest="source", metavar="X", help="internet, nlb, alb, control-plane, a node, a pod")
    path.add_argument("--to", dest="dest", metavar="Y", help="a pod, a node[:port], a Service, api, internet, an IP")
    path.add_argument("--port", type=int, help="destination port (default: what Y implies)")
    path.add_argument("--proto", choices=["tcp", "udp"], help="protocol (default: what Y implies)")
    path.add_argument("--endpoint", metavar="POD", help="the backend kube-proxy picks for a Service")
    outputs.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.command == "flows" and bool(args.source) != bool(args.dest):
        parser.error("flows: give both --from and --to, or neither")
    stdout = sys.stdout
    with contextlib.redirect_stdout(sys.stderr if args.json else sys.stdout):  # --json: stdout holds JSON only
        return _preview(args, stdout)


def _preview(args, stdout) -> int:
    print(f"Previewing update ({args.stack}) offline: in-process Pulumi runtime, AWS simulated by moto\n")
    with OfflineEngine(args.cwd, args.stack, dict(args.config)) as engine:
        outputs.progress("running the program against moto and the simulated API server")
        result = engine.run()
        outputs.progress(f"{len(result.resources)} resources registered; checking")
        if not result.ok:
            print(f"error: {result.error}", file=sys.stderr)
            if result.traceback:
                print(result.traceback, file=sys.stderr)
            print(f"\n{len(result.resources)} resources were registered before the error.", file=sys.stderr)
            return 2 if result.error_kind == "config" else 1
        model = flows.from_engine(result, engine)
        if args.command == "flows":
            return _flows(model, args)
        if args.command == "dataplane":
            from .dataplane.cli import run as dataplane  # root only: nothing of it loads for a preview
            return dataplane(model)
        ec2 = engine.ec2_reader()
        print(report.resource_tree(result))
        print("\nCluster:")
        print(report.cluster_summary(result))
        print("\nNodes:")
        print(report.node_table(ec2))
        print("\nCNI:")
        print(report.cni_table(result, engine.kube, ec2))
        print("\nOutputs:")
        print(report.outputs(result))
        objects = list(engine.kube.objects.values())
        cfg = stack_config(result)
        print("\nServices:")
        print(report.services_table(objects))
        verification = flows.verify(model)
        print("\nFlows (each over every placement of its pods; docs/flows.md):")
        print(report.flow_table(verification))
        print("\nNetwork policy flows:")
        print(report.flow_matrix(objects, cfg.app_namespace, str(cfg.vpc_cidr), checks.forwarded_from(cfg)))
        print("\nLoad balancer controller:")
        print(report.lb_controller_summary(result))
        print("\nIngress (ALB):")
        print(report.ingress_table(objects))
        print("\nCoreDNS:")
        print(report.coredns_section(result, engine.kube.objects))
        problems = checks.run_all(result, engine, verification)
        status = outputs.finish(args, result, engine, problems, stdout, verification)
    if problems:
        print("\nerror: cross-object checks failed:", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print("\nChecks: pod routes match nodes; source/dest check off on every routed node; "
          "each node's pod addresses come from exactly its routed block; Services, NetworkPolicy flows, "
          "the load balancer controller's values, IRSA trust and annotations; Ingress backends, listeners, "
          "subnets and policies; node-to-pod traffic across nodes through security groups and policies; "
          "what each deletion of `pulumi destroy` needs still exists.")
    print("DNS checks: the Corefile parses and keeps the kubernetes plugin for cluster.local, ready and health; "
          "node-local-dns and kubelet's clusterDNS match the kube-proxy mode.")
    print("Flows: every promised path is allowed and every promised denial denied, hop by hop, for every placement.")
    return status


def _flows(model, args) -> int:
    """``flows``: the flow table with paths, or one path explained; exit 1 when it is (or any is) denied."""
    if args.source:
        try:
            title, trace = explain(model, args.source, args.dest, args.port, args.proto, args.endpoint)
        except BadPath as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(render(title, trace))
        return 0 if trace.allowed else 1
    verification = flows.verify(model)
    print(report.flow_table(verification, paths=True))
    for problem in verification.problems:
        print(f"  - {problem}", file=sys.stderr)
    return 0 if verification.holds else 1


if __name__ == "__main__":
    status = main()
    # Everything is printed; skip the interpreter's ~0.8 s teardown of moto's and the SDK's
    # module graph (nothing is left to flush or close but the standard streams).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
