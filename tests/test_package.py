"""k8snet as other Python stacks consume it: the README's examples run, and a wheel built from the repository,
installed into a fresh virtualenv, carries everything a consumer program needs (its package data included)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

from tests.conftest import ROOT, probe_project

SECTION = "### Use from another Python stack"


def readme_examples() -> list[str]:
    """The Python code blocks of the README's "Use from another Python stack" section."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index(SECTION):]
    section = section[: section.index("\n### ", len(SECTION))]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def _project(directory: Path, program: str, region: str) -> Path:
    project = probe_project(directory, program)
    (project / "Pulumi.test.yaml").write_text(f"config:\n  aws:region: {region}\n")
    return project


def test_the_readme_shows_the_all_in_one_and_the_pieces():
    all_in_one, pieces = readme_examples()
    assert "KubernetesNetworking(" in all_in_one and "PodRoutes(" in pieces


def test_the_readme_pieces_example_runs(run_stack, tmp_path):
    _, pieces = readme_examples()
    result, engine = run_stack(project_dir=_project(tmp_path, pieces, "eu-west-1"), stack="test")
    assert result.ok, result.error
    assert {r.type for r in result.resources if r.type.startswith("k8snet:")} == {
        "k8snet:index:Network", "k8snet:index:Cluster", "k8snet:index:WorkerNodes", "k8snet:index:PodRoutes",
        "k8snet:index:Calico"}
    routes = [r for r in result.of_type("aws:ec2/route:Route") if r.name.startswith("pod-routes-")]
    assert len(routes) == 4  # 2 nodes x 2 private tables
    # depends_on=[workers] holds the CNI's release back until every worker instance exists.
    instances = {r.urn for r in result.of_type("aws:ec2/instance:Instance")}
    assert len(instances) == 2 and instances <= set(result.named("calico-operator").dependencies)


CONSUMER = textwrap.dedent('''
    import json, sys
    sys.path.append(sys.argv[2])  # the repository, for the offline engine only: k8snet is not in it
    from offline.harness import gc_policy
    gc_policy.quiet_imports()  # a one-shot process, as the CLI runs (offline/harness/gc_policy.py)
    import k8snet
    from offline import OfflineEngine
    gc_policy.after_imports()
    with OfflineEngine(sys.argv[1], "test") as engine:
        result = engine.run()
        print(json.dumps({"k8snet": k8snet.__file__, "ok": result.ok, "error": result.error,
                          "types": sorted({r.type for r in result.resources}), "exports": sorted(result.exports)}))
''')


def test_a_wheel_installed_into_a_fresh_venv_runs_the_readme_all_in_one(tmp_path):
    # Build the wheel from a copy of exactly what pyproject.toml packages (the tree stays untouched).
    source = tmp_path / "source"
    (source / "components").mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "components" / "k8snet", source / "components" / "k8snet",
                    ignore=shutil.ignore_patterns("__pycache__"))
    # The build backend pyproject.toml names, called as a PEP 517 frontend calls it (what `pip wheel
    # --no-build-isolation` does, without pip's own start-up).
    wheels = tmp_path / "wheels"
    backend = tomllib.loads((source / "pyproject.toml").read_text())["build-system"]["build-backend"]
    subprocess.run([sys.executable, "-c", "import importlib, sys; importlib.import_module(sys.argv[1]).build_wheel(sys.argv[2])",
                    backend, str(wheels)], check=True, capture_output=True, cwd=source)
    (wheel,) = wheels.glob("k8snet-*.whl")

    # A fresh venv; k8snet comes only from the wheel. Its dependencies (pulumi, pulumi-aws, ...) are this
    # venv's, made visible by a path entry (no network in tests), which does not run this venv's .pth files
    # (so the editable install of the repository stays invisible).
    fresh = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(fresh)], check=True)
    python = fresh / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               check=True, capture_output=True, text=True).stdout.strip())
    ours = next(p for p in sys.path if p.endswith("site-packages"))
    (site / "dependencies.pth").write_text(ours + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-index", str(wheel)], check=True, capture_output=True)

    all_in_one, _ = readme_examples()
    (tmp_path / "consumer").mkdir()
    project = _project(tmp_path / "consumer", all_in_one, "us-east-1")
    out = subprocess.run([str(python), "-c", CONSUMER, str(project), str(ROOT)], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["k8snet"].startswith(str(site)), report["k8snet"]  # the wheel's copy, not the repository's
    assert report["ok"], report["error"]
    # Package data travelled: the app's files (ConfigMaps) and the controller's IAM policy (YAML).
    assert {"k8snet:index:KubernetesNetworking", "kubernetes:core/v1:ConfigMap", "aws:iam/policy:Policy"} <= set(report["types"])
    assert {"kubeconfig", "oidcIssuer", "appUrl"} <= set(report["exports"])
