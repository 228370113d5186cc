"""Pulumi.yaml, the dev stack and the requirements agree with the code's contract."""

import re

import yaml

from k8snet.config.stack_config import SCHEMA
from tests.conftest import ROOT


def _load(name):
    return yaml.safe_load((ROOT / name).read_text())


def test_pulumi_yaml_types_every_key_pulumi_can_type():
    project = _load("Pulumi.yaml")
    assert project["name"] == "k8s-networking"
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}
    declared = project["config"]
    # Pulumi project config has no map type, so `nodes` is documented in a comment instead.
    assert set(declared) == {k for k, v in SCHEMA.items() if v.type != "object"}
    for key, decl in declared.items():
        assert decl["type"] == SCHEMA[key].type, key
        assert decl["default"] == SCHEMA[key].default, key
        assert decl["description"] == SCHEMA[key].description, key
    assert "k8s-networking:nodes:" in (ROOT / "Pulumi.yaml").read_text()


def test_dev_stack_sets_region_and_the_documents_values():
    config = _load("Pulumi.dev.yaml")["config"]
    assert config["aws:region"]
    assert config["k8s-networking:vpcCidr"] == "192.168.0.0/16"
    assert config["k8s-networking:podCidr"] == "10.1.0.0/16"
    assert config["k8s-networking:nodePodCidrPrefix"] == 24
    assert config["k8s-networking:nodes"]["node1"] == {"index": 1}


def test_requirements_are_pinned():
    for name in ("requirements.txt", "requirements-dev.txt", "requirements-checkov.txt"):
        for line in (ROOT / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-r ") and line != "-e .":  # -e .: the project's own package
                assert re.fullmatch(r"[A-Za-z0-9_.\-\[\],]+==[0-9][\w.]*", line), f"{name}: {line} is not pinned"
    assert "-e ." in (ROOT / "requirements.txt").read_text().splitlines()


def test_readme_documents_every_config_key_and_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    for key in SCHEMA:
        assert f"| `{key}` |" in readme, key
    assert "venv/bin/python -m offline --stack dev" in readme
    assert "venv/bin/python -m pytest" in readme
    assert "venv/bin/python -m pytest" in (ROOT / ".ci/run").read_text()


def test_the_suites_worker_groups_name_test_files_that_exist():
    """A renamed file or test would silently leave its group or home (tests/conftest.py SHARED_FIXTURE_GROUPS,
    RUN_HOMES): its shared fixture or runs would then be made once per xdist worker again."""
    from tests.conftest import RUN_HOMES, SHARED_FIXTURE_GROUPS

    listed = [name for names in SHARED_FIXTURE_GROUPS.values() for name in names]
    assert len(listed) == len(set(listed))
    assert [name for name in listed if not (ROOT / "tests" / name).is_file()] == []
    # RUN_HOMES: a group, a file, or a test (file::name) defined in that file; each in one home only.
    homed = [entry for entries in RUN_HOMES for entry in entries]
    assert len(homed) == len(set(homed))
    missing = []
    for entry in homed:
        name, _, test = entry.partition("::")
        path = ROOT / "tests" / name
        if entry not in SHARED_FIXTURE_GROUPS and not (path.is_file() and (
                not test or f"\ndef {test}(" in path.read_text())):
            missing.append(entry)
    assert missing == []
    dev = (ROOT / "requirements-dev.txt").read_text()
    assert "\npytest-xdist==" in dev and "\nexecnet==" in dev
