"""The example app under the engine (every object validated strictly against Kubernetes 1.35 by the
simulated API server), its cross-object checks, its secrets, and the NetworkPolicy flow matrix."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import textwrap

import pytest

from k8snet.app import manifests as m
from k8snet.app.flows import flows
from k8snet.config.stack_config import parse_config
from k8snet.config.errors import ConfigError
from k8snet.app.manifests import APP_FILES
from k8snet.app.policy_eval import Endpoint, allowed
from offline.kube.api_server import unwrap_secrets
from offline.checks import app as app_checks
from offline import report
from offline.kube.schemas import KubeSchemas
from offline.report import render_value

PROGRAM = textwrap.dedent('''
    import pulumi
    import pulumi_kubernetes as k8s
    from k8snet import ExampleApp, ExampleAppArgs

    provider = k8s.Provider("k8s", kubeconfig="{}")
    app = ExampleApp("app", ExampleAppArgs(external_names={"partner-api": "api.example.com"},
                                           retain_data=RETAIN, network_policy=POLICY),
                     opts=pulumi.ResourceOptions(provider=provider))
    pulumi.export("appNamespace", app.namespace)
    pulumi.export("appServices", app.services)
    pulumi.export("appNodePort", app.node_port)
    pulumi.export("appLoadBalancerHostname", app.load_balancer_hostname)
    pulumi.log.info("app deployed")
''')


def _run(stack_run, retain=True, policy=True):
    program = PROGRAM.replace("RETAIN", str(retain)).replace("POLICY", str(policy))
    result, engine = stack_run(program=program)
    assert result.ok, (result.error, result.traceback)
    return result, engine


def test_app_deploys_and_every_check_passes(stack_run):
    result, engine = _run(stack_run)
    objects = list(engine.kube.objects.values())
    kinds = sorted({o["kind"] for o in objects})
    assert kinds == ["ConfigMap", "Deployment", "Namespace", "NetworkPolicy", "PodDisruptionBudget", "Secret",
                     "Service", "ServiceAccount", "StatefulSet", "StorageClass"]
    assert app_checks.service_problems(objects) == []
    assert app_checks.flow_problems(objects, "webapp", "192.168.0.0/16") == []
    assert result.exports["appNodePort"] == 30080
    assert result.exports["appLoadBalancerHostname"].endswith(".elb.us-east-1.amazonaws.com")
    assert result.exports["appServices"] == {"ClusterIP": "webapp", "NodePort": "webapp-nodeport",
                                             "LoadBalancer": "webapp-lb", "Headless": "mysql",
                                             "ExternalName:partner-api": "partner-api"}
    types = {o["spec"].get("type", "ClusterIP") for o in objects if o["kind"] == "Service"}
    assert types == {"ClusterIP", "NodePort", "LoadBalancer", "ExternalName"}
    table = report.services_table(objects)
    assert "webapp/webapp-nodeport  NodePort      80->http      30080" in table
    assert "app=mysql -> StatefulSet/mysql" in table


def test_component_conventions_and_provider(stack_run):
    result, _ = _run(stack_run)
    (comp,) = result.of_type("k8snet:index:ExampleApp")
    children = [r for r in result.resources if r.parent == comp.urn]
    assert children and all(c.name.startswith("app-") for c in children)
    provider = next(r for r in result.resources if r.type == "pulumi:providers:kubernetes")
    for child in children:
        if child.type.startswith("kubernetes:"):
            assert child.options["provider"].startswith(provider.urn), child.name
    assert {"namespace", "services", "nodePort", "loadBalancerHostname", "mysqlHost", "storageClass"} <= set(comp.outputs)


@pytest.mark.parametrize("retain", [True, False])
def test_data_is_kept_on_destroy_unless_opted_out(stack_run, retain):
    result, engine = _run(stack_run, retain=retain)
    kept = sorted(r.type.split(":")[-1] for r in result.resources if r.options["retainOnDelete"])
    assert kept == (["Namespace", "StatefulSet", "StorageClass"] if retain else [])
    sts = next(o for o in engine.kube.objects.values() if o["kind"] == "StatefulSet")
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == ("Retain" if retain else "Delete")
    sc = next(o for o in engine.kube.objects.values() if o["kind"] == "StorageClass")
    assert (sc["provisioner"], sc["reclaimPolicy"], sc["volumeBindingMode"]) == (
        "ebs.csi.aws.com", "Retain", "WaitForFirstConsumer")
    assert sc["parameters"]["type"] == "gp3" and sc["parameters"]["encrypted"] == "true"


def test_passwords_are_secret_end_to_end(stack_run):
    result, engine = _run(stack_run)
    secrets = {o["metadata"]["name"]: o for o in engine.kube.objects.values() if o["kind"] == "Secret"}
    plaintexts = set(secrets["mysql-credentials"]["stringData"].values())
    assert len(plaintexts) == 2 and all(len(p) == 32 and p.isalnum() for p in plaintexts)
    for pw in result.of_type("random:index/randomPassword:RandomPassword"):
        assert render_value(pw.outputs["result"]) == "[secret]"
    # The database's TLS key (pulumi-tls) is as secret as the passwords.
    tls_key = secrets["mysql-tls"]["stringData"]["tls.key"]
    assert "PRIVATE KEY" in tls_key
    plaintexts.add(tls_key.strip().splitlines()[1])  # a line of the key's body
    for key in result.of_type("tls:index/privateKey:PrivateKey"):  # the CA's key too
        assert render_value(key.outputs["privateKeyPem"]) == "[secret]"
        plaintexts.add(unwrap_secrets(key.outputs["privateKeyPem"]).strip().splitlines()[1])
    assert len(plaintexts) == 4
    for secret_record in result.of_type("kubernetes:core/v1:Secret"):
        assert render_value(secret_record.inputs["stringData"]) == "[secret]"  # the whole map, as sent
    # Nowhere else: not in any other object, registered input/output, export, log line or report.
    visible = [render_value(r.inputs) + render_value(r.outputs) for r in result.resources]
    visible += [json.dumps(o) for o in engine.kube.objects.values() if o["kind"] != "Secret"]
    visible += [render_value(result.exports), report.outputs(result), report.resource_tree(result)]
    visible += [msg for _, msg in result.logs]
    for text in visible:
        assert not any(p in text for p in plaintexts)
    # Delivered as files: no container gets a password in its environment.
    for _, _, _, containers in app_checks.pod_templates(engine.kube.objects.values()):
        for c in containers:
            assert not any("valueFrom" in e for e in c.get("env") or [])
            assert not any(e["name"].endswith("PASSWORD") for e in c.get("env") or [])


def test_policies_off_means_no_policies(stack_run):
    _, engine = _run(stack_run, policy=False)
    objects = list(engine.kube.objects.values())
    assert not app_checks.policies(objects)
    assert app_checks.flow_problems(objects, "webapp", "192.168.0.0/16") == []


@pytest.mark.parametrize("settings", [m.AppSettings(), m.AppSettings(network_policy=False, retain_data=False,
                                                                      external_names={"a": "a.example.com"}),
                                      m.AppSettings(dns_ips=("169.254.20.10", "10.100.0.10"))])
def test_every_object_is_valid_for_the_configured_version(settings):
    schemas = KubeSchemas(settings.kubernetes_version)
    for obj in m.all_objects(settings):
        assert schemas.errors(obj) == [], (obj["kind"], obj["metadata"]["name"])


def test_configmaps_ship_the_tested_files():
    data = {o["metadata"]["name"]: o["data"] for o in m.config_maps(m.AppSettings())}
    assert data["webapp-code"]["app.py"] == (APP_FILES / "app.py").read_text()
    assert data["webapp-nginx"]["nginx.conf"] == (APP_FILES / "nginx.conf").read_text()
    assert data["mysql-init"]["init.sql"] == (APP_FILES / "init.sql").read_text()


def test_pods_are_hardened():
    objects = m.all_objects(m.AppSettings())
    templates = {o["kind"]: o["spec"]["template"]["spec"] for o in objects if o["kind"] in ("Deployment", "StatefulSet")}
    for pod in templates.values():
        assert pod["automountServiceAccountToken"] is False and pod["serviceAccountName"]
        assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert c["resources"]["requests"] and c["resources"]["limits"]
            assert "livenessProbe" in c
            assert ":" in c["image"] and not c["image"].endswith(":latest")
    assert all("readinessProbe" in c for c in templates["StatefulSet"]["containers"])
    assert any("readinessProbe" in c for c in templates["Deployment"]["containers"])
    sas = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ServiceAccount"}
    assert all(sa["automountServiceAccountToken"] is False for sa in sas.values())
    deploy = next(o for o in objects if o["kind"] == "Deployment")
    assert deploy["spec"]["replicas"] >= 2
    spread = deploy["spec"]["template"]["spec"]["topologySpreadConstraints"][0]
    assert (spread["topologyKey"], spread["whenUnsatisfiable"]) == ("topology.kubernetes.io/zone", "DoNotSchedule")
    pdb = next(o for o in objects if o["kind"] == "PodDisruptionBudget")
    assert pdb["spec"]["selector"] == deploy["spec"]["selector"]


def test_webapp_reaches_mysql_by_dns_name():
    deploy = m.webapp_deployment(m.AppSettings(namespace="shop"))
    env = {e["name"]: e["value"] for c in deploy["spec"]["template"]["spec"]["containers"] for e in c.get("env", [])}
    assert env["DB_HOST"] == "mysql.shop.svc.cluster.local"


def test_nlb_is_provisioned_by_the_load_balancer_controller():
    lb = next(s for s in m.services(m.AppSettings()) if s["spec"]["type"] == "LoadBalancer")
    assert lb["spec"]["loadBalancerClass"] == "service.k8s.aws/nlb"
    ann = lb["metadata"]["annotations"]
    assert ann["service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"] == "instance"
    # Internal and reachable from the VPC only, unless a stack makes it public (issue 13).
    assert ann["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internal"
    assert lb["spec"]["loadBalancerSourceRanges"] == ["192.168.0.0/16"]


# --- the checks catch what they are for ---------------------------------------------------------

def _objects():
    return copy.deepcopy(m.all_objects(m.AppSettings()))


def _svc(objects, name):
    return next(o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == name)


@pytest.mark.parametrize("break_it, expected", [
    (lambda o: _svc(o, "webapp")["spec"].update(selector={"app": "webap"}), "matches no pod template"),
    (lambda o: _svc(o, "webapp")["spec"]["ports"][0].update(targetPort="htp"), "targetPort 'htp'"),
    (lambda o: _svc(o, "mysql")["spec"]["ports"][0].update(targetPort=3307), "targetPort 3307"),
    (lambda o: _svc(o, "mysql")["spec"].pop("clusterIP"), "is not headless"),
    (lambda o: next(x for x in o if x["kind"] == "StatefulSet")["spec"].update(serviceName="db"), "serviceName 'db'"),
    (lambda o: _svc(o, "webapp-lb")["spec"]["ports"][0].update(nodePort=30080), "nodePort 30080 is already"),
    (lambda o: _svc(o, "webapp-nodeport")["spec"]["ports"][0].update(nodePort=8080), "outside 30000-32767"),
])
def test_service_checks_catch_mistakes(break_it, expected):
    objects = _objects()
    break_it(objects)
    problems = app_checks.service_problems(objects)
    assert any(expected in p for p in problems), problems


def test_flow_check_catches_a_too_open_policy():
    objects = _objects()
    mysql_in = next(o for o in objects if o["metadata"]["name"] == "mysql-from-webapp")
    mysql_in["spec"]["ingress"][0]["from"].append({"namespaceSelector": {}})  # any pod in any namespace
    problems = app_checks.flow_problems(objects, "webapp", "192.168.0.0/16")
    assert any("pod in default -> mysql-0:3306/TCP is allowed" in p for p in problems), problems
    assert "<-- expected deny" in report.flow_matrix(objects, "webapp", "192.168.0.0/16")


# --- the evaluator itself ----------------------------------------------------------------------

def test_flow_matrix_of_the_shipped_policies():
    policies = m.network_policies(m.AppSettings())
    for flow in flows("webapp", "192.168.0.0/16"):
        assert allowed(policies, flow.src, flow.dst, flow.port, flow.protocol) == flow.expected, flow


def test_evaluator_semantics():
    a = Endpoint("a", "10.1.1.1", "ns", {"app": "a"})
    b = Endpoint("b", "10.1.1.2", "ns", {"app": "b"}, ports={"web": 8080})
    other_ns = Endpoint("c", "10.1.1.3", "other", {"app": "a"}, namespace_labels={"team": "x"})
    assert allowed([], a, b, 1)  # nothing selects either pod: not isolated
    only_a = {"metadata": {"namespace": "ns"}, "spec": {"podSelector": {"matchLabels": {"app": "b"}},
              "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "a"}}}], "ports": [{"port": "web"}]}]}}
    assert allowed([only_a], a, b, 8080)  # named port resolved on the destination; policyTypes defaulted
    assert not allowed([only_a], a, b, 80)
    assert not allowed([only_a], other_ns, b, 8080)  # a bare podSelector means the policy's namespace
    by_ns = copy.deepcopy(only_a)
    by_ns["spec"]["ingress"][0]["from"] = [{"namespaceSelector": {"matchLabels": {"team": "x"}}}]
    assert allowed([by_ns], other_ns, b, 8080) and not allowed([by_ns], a, b, 8080)
    blocked = copy.deepcopy(only_a)
    blocked["spec"]["ingress"][0]["from"] = [{"ipBlock": {"cidr": "10.1.0.0/16", "except": ["10.1.1.0/24"]}}]
    assert not allowed([blocked], a, b, 8080)
    assert allowed([blocked], Endpoint("n", "10.1.2.9"), b, 8080)


# --- config -----------------------------------------------------------------------------------

def test_app_config_defaults_and_every_problem_at_once():
    cfg = parse_config({}, "dev")
    assert (cfg.app_namespace, cfg.app_node_port, dict(cfg.external_names), cfg.network_policy, cfg.retain_data) == (
        "webapp", 30080, {}, True, True)
    cfg = parse_config({"networkPolicy": "false", "retainData": False, "externalNames": '{"partner-api": "api.example.com"}'}, "dev")
    assert (cfg.network_policy, cfg.retain_data, dict(cfg.external_names)) == (False, False, {"partner-api": "api.example.com"})
    with pytest.raises(ConfigError) as err:
        parse_config({"appNamespace": "default", "appNodePort": 29999, "networkPolicy": "yes",
                      "externalNames": {"mysql": "db.example.com", "Bad_Name": "x.example.com", "ip": "10.0.0.1",
                                        "up": "UPPER.example.com"}}, "dev")
    text = str(err.value)
    for expected in ("appNamespace: 'default'", "appNodePort: 29999 is outside the NodePort range 30000-32767",
                     "networkPolicy: expected true or false", "externalNames.mysql: 'mysql' is one of the app's own",
                     "externalNames.Bad_Name: Service names", "externalNames.ip: '10.0.0.1' is an IP address",
                     "externalNames.up: 'UPPER.example.com' is not a lowercase DNS name"):
        assert expected in text, text


@pytest.mark.skipif(not shutil.which("nginx", path="/usr/sbin:/usr/bin:/sbin"), reason="nginx not installed "
                    "(apt-get install nginx; .ci/run does)")
def test_nginx_accepts_the_shipped_config():
    nginx = shutil.which("nginx", path="/usr/sbin:/usr/bin:/sbin")
    out = subprocess.run([nginx, "-t", "-e", "stderr", "-c", str(APP_FILES / "nginx.conf")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
