"""The example app's Kubernetes objects as plain dicts (apiVersion, kind, metadata, ...): pure, so the
checks in offline/checks/app.py and the schema tests run on them without Pulumi. The component
(k8snet/app/example_app.py) registers each one; values may be Pulumi Outputs (the passwords).

Images are pinned by tag and digest in k8snet/shared/images.py (tags from docker-library/official-images
at commit 37079fb336f5, 2026-08-21; digests and their sources there).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..shared import images
from . import load_balancer
from .load_balancer import LoadBalancerSettings

# The app's own files (code, nginx config, schema): the ConfigMaps and the tests read the same files.
APP_FILES = Path(__file__).parent / "files"

MYSQL_IMAGE = images.MYSQL  # 8.4 LTS, Oracle Linux 9 variant (Dockerfile.oracle)
NGINX_IMAGE = images.NGINX  # stable line, Debian trixie
PYTHON_IMAGE = images.PYTHON  # the app needs only the standard library

NODE_PORT_RANGE = (30000, 32767)  # kube-apiserver --service-node-port-range default
SERVICE_NAMES = {"ClusterIP": "webapp", "NodePort": "webapp-nodeport", "LoadBalancer": "webapp-lb",
                 "Headless": "mysql"}
DATABASE, DB_USER = "ProductDetails", "webapp"
WEBAPP_LABELS = {"app": "webapp"}
MYSQL_LABELS = {"app": "mysql"}
NGINX_UID, MYSQL_UID = 101, 999  # the images' own nginx and mysql users
SECRET_NAME = "mysql-credentials"
TLS_SECRET = "mysql-tls"  # kubernetes.io/tls: tls.crt, tls.key and ca.crt (k8snet/app/tls.py)
TLS_DIR, CA_DIR = "/etc/mysql-tls", "/etc/mysql-ca"  # mysqld's certificate; the webapp's CA (ca.crt only)
WEB_PORT_NAME = "http"  # the webapp Services' port (80 -> nginx); the ALB Ingress backend names it
WEB_CONTAINER_PORT = 80  # nginx's port in the webapp pod: what kube-proxy forwards NodePort/NLB/ALB traffic to

# AWS Load Balancer Controller (kubernetes-sigs/aws-load-balancer-controller docs/guide/service/nlb.md and
# annotations.md, v2.17.1 and v3.5.0 alike): with spec.loadBalancerClass service.k8s.aws/nlb the controller,
# not the cloud provider, provisions an NLB. Internal unless the stack makes it public (with TLS), and
# reachable only from its source ranges (k8snet/app/load_balancer.py). Client IP preservation is off so
# NLB traffic reaches the nodes from the NLB's own VPC addresses (see network policies below).
NLB_CLASS = "service.k8s.aws/nlb"
NLB_ANNOTATIONS = {
    "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "instance",
    "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes": "preserve_client_ip.enabled=false",
}
KUBE_DNS = {"namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}}


@dataclass(frozen=True)
class AppSettings:
    namespace: str = "webapp"
    vpc_cidr: str = "192.168.0.0/16"  # who may reach the webapp on port 80 (nodes, load balancers)
    node_port: int = 30080
    external_names: Mapping[str, str] = field(default_factory=dict)
    network_policy: bool = True
    retain_data: bool = True
    kubernetes_version: str = "1.35"  # Pod Security Admission policy version
    replicas: int = 2
    storage_size: str = "10Gi"
    # False until the AWS Load Balancer Controller runs in the cluster: nothing would give the NLB
    # Service an address, and pulumi-kubernetes waits (10 min) for one before failing the update.
    await_load_balancer: bool = True
    # Addresses pods' DNS packets reach un-NATed besides the CoreDNS pods: with NodeLocal DNSCache,
    # 169.254.20.10 and the kube-dns ClusterIP (node_local_dns_manifests.policy_ips). Allowed as /32s.
    dns_ips: tuple[str, ...] = ()
    # Where kube-proxy's forwarded web traffic comes from besides the VPC: with an overlay, the sending
    # node's tunnel address, inside the pod CIDR (k8snet.cni.dataplane.forwarded_source_cidrs).
    forwarded_from: tuple[str, ...] = ()
    load_balancer: LoadBalancerSettings = LoadBalancerSettings()  # the NLB: internal by default

    @property
    def storage_class(self) -> str:
        return f"{self.namespace}-gp3-retain"  # cluster-scoped: named after the app's namespace

    @property
    def mysql_host(self) -> str:
        return f"{SERVICE_NAMES['Headless']}.{self.namespace}.svc.cluster.local"

    @property
    def mysql_tls_names(self) -> list[str]:
        """Every name the server certificate carries: the Service, short and full (DB_HOST is the full one),
        and the pod's own record, so a client may reach mysqld by any of them and still verify it."""
        service, pod = SERVICE_NAMES["Headless"], "mysql-0"
        return [f"{service}.{self.namespace}.svc", self.mysql_host, f"{pod}.{service}.{self.namespace}.svc",
                f"{pod}.{service}.{self.namespace}.svc.cluster.local"]


def _meta(name: str, namespace: str | None, labels: Mapping[str, str] | None = None, **extra) -> dict:
    meta: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/part-of": "k8snet-example", **(labels or {})}}
    if namespace:
        meta["namespace"] = namespace
    meta.update(extra)
    return meta


def file_text(name: str) -> str:
    return (APP_FILES / name).read_text()


def _digest(*texts: str) -> str:
    return hashlib.sha256("\0".join(texts).encode()).hexdigest()


POD_SECURITY = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
                      "capabilities": {"drop": ["ALL"]}}


def namespace(s: AppSettings) -> dict:
    labels = {"pod-security.kubernetes.io/enforce": "restricted",
              "pod-security.kubernetes.io/enforce-version": f"v{s.kubernetes_version}"}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(s.namespace, None, labels)}


def service_account(s: AppSettings, name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name, s.namespace),
            "automountServiceAccountToken": False}  # neither pod talks to the Kubernetes API


def config_maps(s: AppSettings) -> list[dict]:
    def cm(name, data):
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(name, s.namespace), "data": data}

    return [cm("webapp-code", {"app.py": file_text("app.py")}),
            cm("webapp-nginx", {"nginx.conf": file_text("nginx.conf")}),
            cm("mysql-init", {"init.sql": file_text("init.sql")})]


def secret(s: AppSettings, root_password: Any, password: Any) -> dict:
    """The passwords, delivered as files (never env); values are the RandomPasswords' secret outputs."""
    return {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(SECRET_NAME, s.namespace), "type": "Opaque",
            "stringData": {"root-password": root_password, "password": password}}


def tls_secret(s: AppSettings, ca_cert: Any, cert: Any, key: Any) -> dict:
    """mysqld's certificate, key and CA (values: the pulumi-tls outputs; the key stays a secret Output)."""
    return {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(TLS_SECRET, s.namespace), "type": "kubernetes.io/tls",
            "stringData": {"tls.crt": cert, "tls.key": key, "ca.crt": ca_cert}}


def storage_class(s: AppSettings) -> dict:
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": _meta(s.storage_class, None),
            "provisioner": "ebs.csi.aws.com",  # the EBS CSI driver add-on
            "parameters": {"type": "gp3", "encrypted": "true", "csi.storage.k8s.io/fstype": "ext4"},
            "reclaimPolicy": "Retain",  # deleting the claim keeps the EBS volume
            "volumeBindingMode": "WaitForFirstConsumer",  # create the volume in the zone the pod lands in
            "allowVolumeExpansion": True}


def _tmp(name: str = "tmp") -> dict:
    return {"name": name, "emptyDir": {"sizeLimit": "64Mi"}}


def webapp_deployment(s: AppSettings) -> dict:
    env = {"DB_HOST": s.mysql_host, "DB_PORT": "3306", "DB_NAME": DATABASE, "DB_USER": DB_USER,
           "DB_PASSWORD_FILE": "/var/run/secrets/db/password", "DB_CA_FILE": f"{CA_DIR}/ca.crt",
           "LISTEN_HOST": "127.0.0.1", "LISTEN_PORT": "8080",  # only nginx, over localhost, reaches the app
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
    nginx = {
        "name": "nginx", "image": NGINX_IMAGE,
        # The image's entrypoint edits /etc/nginx; run nginx directly on our full config instead.
        "command": ["nginx", "-e", "stderr", "-c", "/etc/nginx-app/nginx.conf", "-g", "daemon off;"],
        "ports": [{"name": "http", "containerPort": WEB_CONTAINER_PORT, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 10, "timeoutSeconds": 3},
        "livenessProbe": {"httpGet": {"path": "/nginx-health", "port": "http"}, "periodSeconds": 10},
        "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"cpu": "250m", "memory": "64Mi"}},
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [{"name": "nginx-conf", "mountPath": "/etc/nginx-app", "readOnly": True},
                         {"name": "nginx-tmp", "mountPath": "/tmp"}],
    }
    app = {
        "name": "app", "image": PYTHON_IMAGE, "command": ["python3", "/app/app.py"],
        "env": [{"name": k, "value": v} for k, v in env.items()],
        "ports": [{"name": "app", "containerPort": 8080, "protocol": "TCP"}],
        # The app listens on localhost only, so its probe runs inside the container.
        "livenessProbe": {"exec": {"command": ["python3", "-c", "import urllib.request as u; "
                                               "u.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]},
                          "periodSeconds": 15, "timeoutSeconds": 5},
        # Ready when serving; whether the database answers is nginx's /readyz (the Service's readiness).
        "readinessProbe": {"exec": {"command": ["python3", "-c", "import urllib.request as u; "
                                                "u.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]},
                           "periodSeconds": 10, "timeoutSeconds": 5},
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}},
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [{"name": "code", "mountPath": "/app", "readOnly": True},
                         {"name": "db-password", "mountPath": "/var/run/secrets/db", "readOnly": True},
                         {"name": "db-ca", "mountPath": CA_DIR, "readOnly": True},
                         {"name": "app-tmp", "mountPath": "/tmp"}],
    }
    pod = {
        "serviceAccountName": "webapp", "automountServiceAccountToken": False, "enableServiceLinks": False,
        "securityContext": {**POD_SECURITY, "runAsUser": NGINX_UID, "runAsGroup": NGINX_UID, "fsGroup": NGINX_UID,
                            # nginx binds port 80 as a non-root user: a namespaced "safe" sysctl, no capability.
                            "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]},
        "containers": [nginx, app],
        "topologySpreadConstraints": [
            {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
             "labelSelector": {"matchLabels": WEBAPP_LABELS}},
            {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
             "labelSelector": {"matchLabels": WEBAPP_LABELS}}],
        "volumes": [{"name": "code", "configMap": {"name": "webapp-code"}},
                    {"name": "nginx-conf", "configMap": {"name": "webapp-nginx"}},
                    {"name": "db-password", "secret": {"secretName": SECRET_NAME, "defaultMode": 0o440,
                                                       "items": [{"key": "password", "path": "password"}]}},
                    # Only the CA: the server's key never reaches the webapp's pods.
                    {"name": "db-ca", "secret": {"secretName": TLS_SECRET, "defaultMode": 0o444,
                                                 "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    _tmp("nginx-tmp"), _tmp("app-tmp")],
    }
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta("webapp", s.namespace, WEBAPP_LABELS),
            "spec": {"replicas": s.replicas, "selector": {"matchLabels": WEBAPP_LABELS},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                     "template": {"metadata": {"labels": WEBAPP_LABELS, "annotations": {
                         # New code or config rolls the pods.
                         "k8snet.io/config-sha256": _digest(file_text("app.py"), file_text("nginx.conf"))}},
                         "spec": pod}}}


def pod_disruption_budget(s: AppSettings) -> dict:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": _meta("webapp", s.namespace),
            "spec": {"minAvailable": 1, "selector": {"matchLabels": WEBAPP_LABELS},
                     "unhealthyPodEvictionPolicy": "AlwaysAllow"}}  # a broken pod never blocks a node drain


def mysql_statefulset(s: AppSettings, tls_fingerprint: Any = "") -> dict:
    """``tls_fingerprint``: sha256 of the served certificate; a new certificate restarts mysqld."""
    secrets_dir = "/run/secrets/mysql"
    env = {"MYSQL_ROOT_PASSWORD_FILE": f"{secrets_dir}/root-password", "MYSQL_PASSWORD_FILE": f"{secrets_dir}/password",
           "MYSQL_DATABASE": DATABASE, "MYSQL_USER": DB_USER,
           "MYSQL_ROOT_HOST": "localhost"}  # root only over the local socket (the image defaults to '%')
    mysql = {
        "name": "mysql", "image": MYSQL_IMAGE,
        # A subdirectory: the root of an ext4 EBS volume holds lost+found, which mysqld --initialize refuses.
        # TLS only over TCP (the local socket the entrypoint's init uses stays allowed), with our certificate.
        "args": ["--datadir=/var/lib/mysql/data", "--skip-name-resolve", "--require-secure-transport=ON",
                 f"--ssl-ca={TLS_DIR}/ca.crt", f"--ssl-cert={TLS_DIR}/tls.crt", f"--ssl-key={TLS_DIR}/tls.key",
                 "--tls-version=TLSv1.2,TLSv1.3"],
        "env": [{"name": k, "value": v} for k, v in env.items()],
        "ports": [{"name": "mysql", "containerPort": 3306, "protocol": "TCP"}],
        # First start initialises the data directory on a socket only; give it time before liveness counts.
        "startupProbe": {"tcpSocket": {"port": "mysql"}, "periodSeconds": 10, "failureThreshold": 60},
        "livenessProbe": {"tcpSocket": {"port": "mysql"}, "periodSeconds": 10, "failureThreshold": 3},
        # `mysqladmin ping` exits 0 whenever the server answers, even "access denied": no credentials needed
        # (its default ssl-mode PREFERRED negotiates TLS, which require_secure_transport wants).
        "readinessProbe": {"exec": {"command": ["mysqladmin", "ping", "--protocol=TCP", "--host=127.0.0.1",
                                                "--connect-timeout=2"]}, "periodSeconds": 10, "timeoutSeconds": 5},
        "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/mysql"},
                         {"name": "init", "mountPath": "/docker-entrypoint-initdb.d", "readOnly": True},
                         {"name": "credentials", "mountPath": secrets_dir, "readOnly": True},
                         {"name": "tls", "mountPath": TLS_DIR, "readOnly": True},
                         {"name": "run", "mountPath": "/var/run/mysqld"},
                         {"name": "files", "mountPath": "/var/lib/mysql-files"},
                         {"name": "tmp", "mountPath": "/tmp"}],
    }
    pod = {
        "serviceAccountName": "mysql", "automountServiceAccountToken": False, "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 60,  # a clean InnoDB shutdown
        "securityContext": {**POD_SECURITY, "runAsUser": MYSQL_UID, "runAsGroup": MYSQL_UID, "fsGroup": MYSQL_UID,
                            "fsGroupChangePolicy": "OnRootMismatch"},
        "containers": [mysql],
        "volumes": [{"name": "init", "configMap": {"name": "mysql-init"}},
                    {"name": "credentials", "secret": {"secretName": SECRET_NAME, "defaultMode": 0o440}},
                    {"name": "tls", "secret": {"secretName": TLS_SECRET, "defaultMode": 0o440}},  # fsGroup 999 reads
                    {"name": "run", "emptyDir": {"sizeLimit": "16Mi"}}, {"name": "files", "emptyDir": {"sizeLimit": "16Mi"}},
                    _tmp()],
    }
    keep = "Retain" if s.retain_data else "Delete"
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": _meta("mysql", s.namespace, MYSQL_LABELS),
            "spec": {"replicas": 1, "serviceName": SERVICE_NAMES["Headless"], "selector": {"matchLabels": MYSQL_LABELS},
                     "persistentVolumeClaimRetentionPolicy": {"whenDeleted": keep, "whenScaled": "Retain"},
                     "template": {"metadata": {"labels": MYSQL_LABELS, "annotations": {
                         "k8snet.io/config-sha256": _digest(file_text("init.sql")),
                         "k8snet.io/tls-sha256": tls_fingerprint}}, "spec": pod},
                     "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                         "accessModes": ["ReadWriteOnce"], "storageClassName": s.storage_class,
                         "resources": {"requests": {"storage": s.storage_size}}}}]}}


def services(s: AppSettings) -> list[dict]:
    web_port = [{"name": WEB_PORT_NAME, "port": 80, "targetPort": "http", "protocol": "TCP"}]
    lb = s.load_balancer
    nlb = dict(sorted({**NLB_ANNOTATIONS, **load_balancer.annotations(lb)}.items()))

    def svc(kind, spec, **meta):
        return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(SERVICE_NAMES[kind], s.namespace, **meta),
                "spec": spec}

    out = [
        svc("ClusterIP", {"type": "ClusterIP", "selector": WEBAPP_LABELS, "ports": web_port}),
        # externalTrafficPolicy Cluster: kube-proxy SNATs to the node's IP, which is inside the VPC.
        svc("NodePort", {"type": "NodePort", "selector": WEBAPP_LABELS, "externalTrafficPolicy": "Cluster",
                         "ports": [{**web_port[0], "nodePort": s.node_port}]}),
        svc("LoadBalancer", {"type": "LoadBalancer", "loadBalancerClass": NLB_CLASS, "selector": WEBAPP_LABELS,
                             "externalTrafficPolicy": "Cluster", "loadBalancerSourceRanges": lb.ranges(s.vpc_cidr),
                             # With a certificate the NLB listens with TLS on 443 and forwards TCP to port 80.
                             "ports": [{**web_port[0], "name": "https", "port": 443}] if lb.tls else web_port},
            annotations={**nlb, "pulumi.com/skipAwait": "true"} if not s.await_load_balancer else nlb),
        # Headless: DNS returns the pod itself (mysql-0.mysql.<ns>.svc.cluster.local); the StatefulSet's serviceName.
        svc("Headless", {"clusterIP": "None", "selector": MYSQL_LABELS,
                         "ports": [{"name": "mysql", "port": 3306, "targetPort": "mysql", "protocol": "TCP"}]}),
    ]
    for name, target in sorted(s.external_names.items()):
        out.append({"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, s.namespace),
                    "spec": {"type": "ExternalName", "externalName": target}})
    return out


def network_policies(s: AppSettings) -> list[dict]:
    def policy(name, spec):
        return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": _meta(name, s.namespace), "spec": spec}

    tcp = lambda port: {"protocol": "TCP", "port": port}  # noqa: E731
    dns_peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": KUBE_DNS["namespace"]}},
                "podSelector": {"matchLabels": KUBE_DNS["labels"]}}
    # node-local-dns answers from the host network and its NOTRACK rules keep kube-proxy from DNATing
    # the packets to a CoreDNS pod: the policy sees the address the pod sent to (docs/dns.md).
    dns_peers = [dns_peer, *({"ipBlock": {"cidr": f"{ip}/32"}} for ip in s.dns_ips)]
    return [
        policy("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        policy("allow-dns", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [
            {"to": dns_peers, "ports": [{"protocol": "UDP", "port": 53}, tcp(53)]}]}),
        # NodePort and load-balancer (instance target) traffic reaches the pod from a VPC address: the node's,
        # after kube-proxy's SNAT, or the NLB's own (client IP preservation off). Pod IPs are outside the VPC.
        # Forwarded through an overlay it comes from the sending node's tunnel address (forwarded_from).
        policy("webapp-ingress", {"podSelector": {"matchLabels": WEBAPP_LABELS}, "policyTypes": ["Ingress"],
                                  "ingress": [{"from": [{"ipBlock": {"cidr": cidr}}
                                                        for cidr in (s.vpc_cidr, *s.forwarded_from)],
                                               "ports": [tcp(WEB_CONTAINER_PORT)]}]}),
        policy("webapp-to-mysql", {"podSelector": {"matchLabels": WEBAPP_LABELS}, "policyTypes": ["Egress"],
                                   "egress": [{"to": [{"podSelector": {"matchLabels": MYSQL_LABELS}}],
                                               "ports": [tcp(3306)]}]}),
        policy("mysql-from-webapp", {"podSelector": {"matchLabels": MYSQL_LABELS}, "policyTypes": ["Ingress"],
                                     "ingress": [{"from": [{"podSelector": {"matchLabels": WEBAPP_LABELS}}],
                                                  "ports": [tcp(3306)]}]}),
    ]


def all_objects(s: AppSettings, root_password: Any = "root-password", password: Any = "password",
                tls: tuple[Any, Any, Any, Any] = ("ca", "cert", "key", "")) -> list[dict]:
    """Everything the component registers, in dependency order (namespace first). ``tls``: CA certificate,
    server certificate, server key and the certificate's fingerprint (k8snet/app/tls.py)."""
    ca_cert, cert, key, fingerprint = tls
    objects = [namespace(s), service_account(s, "webapp"), service_account(s, "mysql"), *config_maps(s),
               secret(s, root_password, password), tls_secret(s, ca_cert, cert, key), storage_class(s),
               mysql_statefulset(s, fingerprint), webapp_deployment(s),
               pod_disruption_budget(s), *services(s)]
    if s.network_policy:
        objects += network_policies(s)
    return objects
