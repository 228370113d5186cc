"""The webapp's ALB Ingress: settings validation, annotations the pinned controller accepts, backends that
resolve to a NodePort, subnets the controller discovers, policies that admit the ALB, and the exports."""

from __future__ import annotations

import copy

import pytest

from k8snet.ingress import alb_ingress
from k8snet.app import manifests as app_manifests
from k8snet.shared import tags
from k8snet.ingress.settings import IngressSettings, parse_settings, region_problem
from offline.checks import alb as alb_checks

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"


def _parse(raw):
    problems = []
    settings = parse_settings(raw, lambda key, msg: problems.append(f"{key}: {msg}"))
    return settings, problems


def test_defaults_serve_every_host_and_path_over_http():
    settings, problems = _parse({})
    assert problems == []
    assert settings == IngressSettings(True, None, ("/",), None, "/healthz") and not settings.https


@pytest.mark.parametrize("raw, key, fragment", [
    ({"host": "Shop.Example.com"}, "ingress.host", "lowercase DNS name"),
    ({"host": "192.168.0.10"}, "ingress.host", "cannot be IP addresses"),
    ({"host": "a..b"}, "ingress.host", "lowercase DNS name"),
    ({"paths": []}, "ingress.paths", "non-empty list"),
    ({"paths": ["api"]}, "ingress.paths[0]", "must start with '/'"),
    ({"paths": ["/api/*"]}, "ingress.paths[0]", "no * or ?"),
    ({"paths": ["/a b"]}, "ingress.paths[0]", "must start with '/'"),
    ({"paths": ["/" + "x" * 126]}, "ingress.paths[0]", "ALB path patterns allow 126"),
    ({"paths": ["/api", "/api/"]}, "ingress.paths[1]", "repeats an earlier path"),
    ({"certificateArn": "arn:aws:iam::123456789012:server-certificate/x"}, "ingress.certificateArn", "ACM"),
    ({"healthCheckPath": "healthz"}, "ingress.healthCheckPath", "starting with '/'"),
    ({"enabled": "yes"}, "ingress.enabled", "true or false"),
    ({"hostname": "x"}, "ingress.hostname", "unknown setting"),
])
def test_bad_settings_name_the_key_and_the_fix(raw, key, fragment):
    _, problems = _parse(raw)
    assert any(p.startswith(f"{key}: ") and fragment in p for p in problems), problems


def test_good_settings_round_trip():
    settings, problems = _parse({"host": "*.shop.example.com", "paths": ["/", "/api"], "certificateArn": CERT,
                                 "healthCheckPath": "/readyz", "enabled": True})
    assert problems == []
    assert settings.https and settings.paths == ("/", "/api") and settings.host == "*.shop.example.com"
    assert region_problem(settings, "us-east-1") is None
    assert "from its own region" in region_problem(settings, "eu-west-1")


@pytest.mark.parametrize("https", [False, True])
def test_annotations_are_ones_the_pinned_controller_accepts(https):
    settings = IngressSettings(certificate_arn=CERT if https else None)
    ann = alb_ingress.annotations(settings)
    assert alb_checks.annotation_problems(ann, "ingressAnnotations", "test") == []
    # Public only with HTTPS (or an explicit allowHttp, below): plain HTTP stays inside the VPC (issue 13).
    assert ann["alb.ingress.kubernetes.io/scheme"] == ("internet-facing" if https else "internal")
    assert alb_ingress.annotations(IngressSettings(allow_http=True))["alb.ingress.kubernetes.io/scheme"] == \
        "internet-facing"
    assert ann["alb.ingress.kubernetes.io/target-type"] == "instance"
    assert ann["alb.ingress.kubernetes.io/healthcheck-path"] == "/healthz"
    obj = alb_ingress.ingress("webapp", "webapp", "webapp-nodeport", "http", settings)
    ports = alb_checks.listeners(obj)
    if https:
        assert ports == [("HTTP", 80), ("HTTPS", 443)]
        assert ann["alb.ingress.kubernetes.io/ssl-redirect"] == "443"
        assert ann["alb.ingress.kubernetes.io/certificate-arn"] == CERT
        assert ann["alb.ingress.kubernetes.io/ssl-policy"].startswith("ELBSecurityPolicy-TLS13")
    else:
        assert ports == [("HTTP", 80)]
        assert not any("certificate" in k or "ssl" in k for k in ann)
    assert list(ann) == sorted(ann)


def test_annotation_checks_catch_what_the_controller_refuses():
    bad = {"alb.ingress.kubernetes.io/scheme": "public",
           "alb.ingress.kubernetes.io/target-typ": "instance",
           "alb.ingress.kubernetes.io/healthcheck-port": "nodeport",
           "alb.ingress.kubernetes.io/listen-ports": "[{HTTP: 80}]",
           "alb.ingress.kubernetes.io/actions.blue-green": "{}",
           "alb.ingress.kubernetes.io/tags": "team",
           "other.example.com/ignored": "x"}
    problems = alb_checks.annotation_problems(bad, "ingressAnnotations", "Ingress x")
    assert len(problems) == 5, problems
    assert any("scheme='public' must be one of internal, internet-facing" in p for p in problems)
    assert any("target-typ is not one controller v3.5.0 reads" in p for p in problems)
    assert any("healthcheck-port='nodeport' must be an integer or traffic-port" in p for p in problems)
    assert any("listen-ports" in p and "not JSON" in p for p in problems)
    assert any("tags='team' must be k1=v1" in p for p in problems)


def test_the_nlb_services_annotations_are_accepted_too():
    assert alb_checks.annotation_problems(app_manifests.NLB_ANNOTATIONS, "serviceAnnotations", "svc") == []


def test_the_ingress_routes_to_the_webapps_nodeport_and_exports_the_alb(dev_stack):
    result, engine = dev_stack
    objects = list(engine.kube.objects.values())
    (ing,) = alb_checks.alb_ingresses(objects)
    assert (ing["metadata"]["namespace"], ing["metadata"]["name"]) == ("webapp", "webapp")
    assert ing["spec"]["ingressClassName"] == "alb"
    backends = alb_checks.backends(ing)
    assert [(h, p, r["name"], r["port"]) for h, p, r in backends] == [("*", "/", "webapp-nodeport", {"name": "http"})]
    svc = next(o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == "webapp-nodeport")
    port = alb_checks.service_port(svc, {"name": "http"})
    assert svc["spec"]["type"] == "NodePort" and port["nodePort"] == 30080
    assert alb_checks.check_run(result, engine.kube, engine.ec2_reader()) == []
    hostname = ing["status"]["loadBalancer"]["ingress"][0]["hostname"]
    assert result.exports["albHostname"] == hostname and hostname.endswith(".elb.us-east-1.amazonaws.com")
    assert result.exports["appUrl"] == f"http://{hostname}/"
    # The Ingress waits for the app (its Service and pods) and for the controller that serves it.
    record = result.named("webapp-ingress")
    app_children = {r.name: r.urn for r in result.resources if r.parent == result.named("app").urn}
    assert app_children["app-deployment-webapp"] in record.dependencies
    assert app_children["app-service-webapp-nodeport"] in record.dependencies
    assert result.named("lb-controller-release").urn in record.dependencies


def test_public_subnets_carry_the_discovery_tags_in_two_zones(run_copy):
    result, engine = run_copy()  # a copy of its own: the test takes a tag off
    assert result.ok, result.error
    ec2 = engine.ec2_reader()
    tagged = ec2.describe_subnets(Filters=[{"Name": f"tag:{tags.ELB_ROLE}", "Values": ["1"]}])["Subnets"]
    assert len({s["AvailabilityZone"] for s in tagged}) >= 2
    # Public subnets only (a route to the internet gateway), each marked as used by this cluster.
    public = set(result.exports["publicSubnetIds"].values())
    assert {s["SubnetId"] for s in tagged} == public
    assert all({"Key": "kubernetes.io/cluster/k8snet-dev", "Value": "shared"} in s["Tags"] for s in tagged)
    assert alb_checks.subnet_problems("x", "internet-facing", ec2) == []
    # Take the tag off one zone's subnet: the controller could not place an ALB any more.
    ec2.delete_tags(Resources=[tagged[0]["SubnetId"]], Tags=[{"Key": tags.ELB_ROLE}])
    assert "in two zones" in alb_checks.subnet_problems("x", "internet-facing", ec2)[0]


def test_the_webapps_network_policy_admits_what_the_alb_sends(dev_stack):
    _, engine = dev_stack
    ec2 = engine.ec2_reader()
    objects = list(engine.kube.objects.values())
    assert alb_checks.ingress_problems(objects, ec2) == []
    # Narrow the webapp's ingress policy to the public subnets (the ALB's own addresses): traffic that
    # kube-proxy forwards from a node's address is then dropped, and the check says so per node.
    narrowed = copy.deepcopy(objects)
    policy = next(o for o in narrowed if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "webapp-ingress")
    policy["spec"]["ingress"][0]["from"] = [{"ipBlock": {"cidr": "192.168.128.0/17"}}]
    problems = alb_checks.ingress_problems(narrowed, ec2)
    assert len(problems) == 3 and all("drop the ALB's traffic from node" in p for p in problems), problems


def test_backend_checks_catch_a_broken_ingress(dev_stack):
    _, engine = dev_stack
    ec2 = engine.ec2_reader()
    objects = copy.deepcopy(list(engine.kube.objects.values()))
    ing = next(o for o in objects if o["kind"] == "Ingress")
    paths = ing["spec"]["rules"][0]["http"]["paths"]
    paths.append({"path": "/a", "pathType": "Prefix", "backend": {"service": {"name": "webapp", "port": {"name": "http"}}}})
    paths.append({"path": "/b", "pathType": "Prefix", "backend": {"service": {"name": "nope", "port": {"number": 80}}}})
    paths.append({"path": "/c*", "pathType": "Prefix",
                  "backend": {"service": {"name": "webapp-nodeport", "port": {"number": 8080}}}})
    ing["metadata"]["annotations"]["alb.ingress.kubernetes.io/ssl-redirect"] = "443"
    problems = alb_checks.ingress_problems(objects, ec2)
    assert any("/a: instance targets need a NodePort or LoadBalancer Service; webapp is ClusterIP" in p
               for p in problems), problems
    assert any("/b: backend Service webapp/nope does not exist" in p for p in problems)
    assert any("/c*: Service webapp-nodeport has no port {'number': 8080}" in p for p in problems)
    assert any("Prefix path '/c*' has a wildcard" in p for p in problems)
    assert any("ssl-redirect 443 is not an HTTPS listen port" in p for p in problems)


def test_https_with_a_host(stack_run):
    result, engine = stack_run({"ingress": {"host": "shop.example.com", "certificateArn": CERT}})
    assert result.ok, result.error
    ing = next(o for o in engine.kube.objects.values() if o["kind"] == "Ingress")
    assert ing["spec"]["rules"][0]["host"] == "shop.example.com"
    assert alb_checks.listeners(ing) == [("HTTP", 80), ("HTTPS", 443)]
    assert result.exports["appUrl"] == "https://shop.example.com/"
    assert alb_checks.ingress_problems(list(engine.kube.objects.values()), engine.ec2_reader()) == []


def test_a_certificate_from_another_region_stops_before_any_resource(stack_run):
    cert = CERT.replace("us-east-1", "eu-west-1")
    result, _ = stack_run({"ingress": {"certificateArn": cert}})
    assert not result.ok and result.error_kind == "config"
    assert "ingress.certificateArn: the certificate is in eu-west-1 but the stack deploys to us-east-1" in result.error
    assert [r for r in result.resources if r.custom] == []


def test_disabled_ingress_keeps_the_controller_and_exports_nothing(stack_run):
    result, _ = stack_run({"ingress": {"enabled": False}})
    assert result.ok, result.error
    assert result.of_type("kubernetes:networking.k8s.io/v1:Ingress") == []
    assert result.of_type("kubernetes:helm.sh/v3:Release")  # the NLB still needs the controller
    assert result.exports["albHostname"] == "" and result.exports["appUrl"] == ""
