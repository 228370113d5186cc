"""The database's TLS identity: a CA of its own and a server certificate for MySQL's Service names.

Generated with pulumi-tls (the ``tls`` provider; terraform-provider-tls bridged): keys and certificates
live in the stack's state as secrets and reach the cluster only in the ``mysql-tls`` Secret. mysqld
serves the certificate and refuses plaintext (``require_secure_transport``); the webapp mounts only
``ca.crt`` and verifies the chain and the host name it connects to (DB_HOST).

Lifetimes: the CA 10 years, the server certificate 2 years. ``early_renewal_hours`` makes any
``pulumi up`` in the last 3 months (server) or last year (CA) of a certificate's life replace it; nothing
renews without an ``up``. A new certificate changes the StatefulSet's ``k8snet.io/tls-sha256`` annotation,
so mysqld restarts on it; the webapp re-reads its CA file on every connection.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pulumi
import pulumi_tls as tls

CA_HOURS, CA_RENEW_HOURS = 10 * 8760, 8760
SERVER_HOURS, SERVER_RENEW_HOURS = 2 * 8760, 2190
KEY = {"algorithm": "RSA", "rsa_bits": 2048}  # what MySQL 8.4, MariaDB and Python's ssl all accept
CA_USES = ["cert_signing", "crl_signing", "digital_signature"]
SERVER_USES = ["server_auth", "digital_signature", "key_encipherment"]


@dataclass
class DatabaseTls:
    ca_cert: pulumi.Output[str]
    cert: pulumi.Output[str]
    key: pulumi.Output[str]  # secret

    @property
    def fingerprint(self) -> pulumi.Output[str]:
        """sha256 of the served certificate: an annotation value that rolls mysqld when it changes."""
        return self.cert.apply(lambda pem: hashlib.sha256(pem.encode()).hexdigest())


def database_tls(name: str, namespace: str, names: list[str], parent: pulumi.Resource) -> DatabaseTls:
    """CA key and certificate, server key, request and CA-signed certificate (resources ``<name>-*``) for the
    DNS ``names`` (``AppSettings.mysql_tls_names``; the first is the subject's common name)."""
    child = pulumi.ResourceOptions(parent=parent)
    ca_key = tls.PrivateKey(f"{name}-ca-key", **KEY, opts=child)
    ca = tls.SelfSignedCert(
        f"{name}-ca", private_key_pem=ca_key.private_key_pem, is_ca_certificate=True,
        subject=tls.SelfSignedCertSubjectArgs(common_name=f"k8snet {namespace} database CA", organization="k8snet"),
        validity_period_hours=CA_HOURS, early_renewal_hours=CA_RENEW_HOURS, allowed_uses=CA_USES,
        set_subject_key_id=True, opts=child)
    key = tls.PrivateKey(f"{name}-server-key", **KEY, opts=child)
    request = tls.CertRequest(
        f"{name}-server-request", private_key_pem=key.private_key_pem, dns_names=names,
        subject=tls.CertRequestSubjectArgs(common_name=names[0], organization="k8snet"), opts=child)
    cert = tls.LocallySignedCert(
        f"{name}-server", cert_request_pem=request.cert_request_pem, ca_private_key_pem=ca_key.private_key_pem,
        ca_cert_pem=ca.cert_pem, validity_period_hours=SERVER_HOURS, early_renewal_hours=SERVER_RENEW_HOURS,
        allowed_uses=SERVER_USES, set_subject_key_id=True, opts=child)
    return DatabaseTls(ca.cert_pem, cert.cert_pem, pulumi.Output.secret(key.private_key_pem))
