"""Stack files read as the Pulumi CLI reads them (offline/harness/project.py): YAML 1.2 scalars, duplicate
keys refused, keys stringified, null passed on as JSON null, and malformed files a clear config error (exit 2)
instead of a traceback. Each case behaved otherwise with the PyYAML reader before issue 11."""

from __future__ import annotations

import shutil

import pytest

from offline.__main__ import main
from offline.harness.project import ProjectError, resolve_config
from tests.conftest import ROOT


@pytest.fixture
def project(tmp_path):
    """This project's Pulumi.yaml with a stack file of the test's choosing."""
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")

    def with_stack(text: str, name: str = "t"):
        (tmp_path / f"Pulumi.{name}.yaml").write_text(text)
        return tmp_path

    return with_stack


def values(directory, stack="t"):
    return resolve_config(directory, stack).values


def test_yes_no_on_off_are_strings_as_in_yaml_1_2(project):
    # PyYAML (YAML 1.1) read `on` as True: the CLI-style type check then refused a string key.
    got = values(project("config:\n  aws:region: us-east-1\n  k8s-networking:clusterName: on\n"
                         "  k8s-networking:natGateways: no\n  k8s-networking:kubeProxyMode: 12:30\n"))
    assert got["k8s-networking:clusterName"] == "on"
    assert got["k8s-networking:natGateways"] == "no"
    assert got["k8s-networking:kubeProxyMode"] == "12:30"  # YAML 1.1 read 750 (base 60)


def test_true_and_numbers_keep_their_yaml_1_2_types(project):
    got = values(project("config:\n  k8s-networking:nodeLocalDns: true\n  k8s-networking:availabilityZones: 3\n"
                         "  k8s-networking:coredns: {cacheSeconds: 60.0}\n"))
    assert got["k8s-networking:nodeLocalDns"] == "true"
    assert got["k8s-networking:availabilityZones"] == "3"
    assert got["k8s-networking:coredns"] == '{"cacheSeconds": 60}'  # as Go's JSON writes a whole float


def test_a_duplicate_key_is_an_error_naming_both_lines(project):
    directory = project("config:\n  k8s-networking:cni: calico\n  k8s-networking:cni: flannel\n")
    with pytest.raises(ProjectError, match=r'Pulumi.t.yaml is not valid YAML: .*duplicate key "k8s-networking:cni"'):
        values(directory)


def test_a_duplicate_node_is_an_error(project):
    directory = project("config:\n  k8s-networking:nodes:\n    node1: {index: 1}\n    node1: {index: 2}\n")
    with pytest.raises(ProjectError, match='duplicate key "node1"'):
        values(directory)


def test_number_keys_become_text_like_the_cli_and_a_null_value_is_json_null(project):
    got = values(project("config:\n  k8s-networking:nodes:\n    1: {index: 1}\n  k8s-networking:coredns:\n"))
    assert got["k8s-networking:nodes"] == '{"1": {"index": 1}}'
    assert got["k8s-networking:coredns"] == "null"  # the program then says the key is empty


@pytest.mark.parametrize("text,message", [
    ("config: [a, b]\n", "Pulumi.t.yaml: `config` must be a map of key: value, got a list"),
    ("config: just text\n", "`config` must be a map of key: value, got a string"),
    ("- a\n- b\n", "Pulumi.t.yaml must be a YAML map, got a list"),
    ("config:\n  k8s-networking:nodes:\n    ? [a, b]\n    : {index: 1}\n", "map keys must be strings, got ('a', 'b')"),
    ("config:\n  k8s-networking:nodes:\n    ~: {index: 1}\n", "map keys must be strings, got null"),
    ("config:\n  k8s-networking:nodes:\n    1: {index: 1}\n    '1': {index: 2}\n", "key '1' appears twice"),
    ("config:\n  k8s-networking:cni: [calico\n", "Pulumi.t.yaml is not valid YAML"),
])
def test_malformed_stack_files_are_one_clear_error(project, text, message):
    with pytest.raises(ProjectError) as info:
        values(project(text))
    assert message in str(info.value)


def test_the_cli_exits_2_on_a_malformed_stack_file_without_a_traceback(project, capsys):
    directory = project("config:\n  aws:region: us-east-1\n  k8s-networking:nodes:\n    node1: {index: 1}\n"
                        "    node1: {index: 2}\n")
    assert main(["--cwd", str(directory), "--stack", "t"]) == 2
    err = capsys.readouterr().err
    assert 'duplicate key "node1"' in err and "Traceback" not in err


def test_cli_config_values_are_yaml_1_2_too(capsys):
    assert main(["--cwd", str(ROOT), "--config", "natGateways=no"]) == 2
    assert "natGateways: 'no' is not one of single, perAz" in capsys.readouterr().err
