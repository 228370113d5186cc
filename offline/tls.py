"""The pulumi-tls provider (terraform-provider-tls, bridged) for the engine: real keys and certificates.

Echoing inputs would leave ``private_key_pem`` and ``cert_pem`` empty, and nothing downstream could be
checked; instead each resource is generated with ``cryptography`` the way the provider does it, so the
program's certificates can be verified offline (chain, names, usages) and served by a real MariaDB in
the tests. What the provider accepts (pulumi_tls docstrings; terraform-provider-tls docs): algorithms
RSA (``rsa_bits``, default 2048), ECDSA (``ecdsa_curve``, default P224!) and ED25519; ``allowed_uses``
from its fixed list; ``validity_period_hours`` required for certificates. ``private_key_pem`` is PKCS#1
for RSA, SEC1 for ECDSA and PKCS#8 for ED25519.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import ipaddress
import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .kube.api_server import unwrap_secrets

CURVES = {"P224": ec.SECP224R1, "P256": ec.SECP256R1, "P384": ec.SECP384R1, "P521": ec.SECP521R1}
KEY_USAGES = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
              "key_agreement", "cert_signing", "crl_signing", "encipher_only", "decipher_only")
EXTENDED_USAGES = {
    "any_extended": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE, "server_auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client_auth": ExtendedKeyUsageOID.CLIENT_AUTH, "code_signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email_protection": ExtendedKeyUsageOID.EMAIL_PROTECTION, "timestamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "ocsp_signing": ExtendedKeyUsageOID.OCSP_SIGNING,
    "ipsec_end_system": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.5"),
    "ipsec_tunnel": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.6"),
    "ipsec_user": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.7"),
    "microsoft_server_gated_crypto": x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.3"),
    "netscape_server_gated_crypto": x509.ObjectIdentifier("2.16.840.1.113730.4.1"),
    "microsoft_commercial_code_signing": x509.ObjectIdentifier("1.3.6.1.4.1.311.2.1.22"),
    "microsoft_kernel_code_signing": x509.ObjectIdentifier("1.3.6.1.4.1.311.61.1.1"),
}
_SUBJECT = {"commonName": NameOID.COMMON_NAME, "organization": NameOID.ORGANIZATION_NAME,
            "organizationalUnit": NameOID.ORGANIZATIONAL_UNIT_NAME, "locality": NameOID.LOCALITY_NAME,
            "province": NameOID.STATE_OR_PROVINCE_NAME, "country": NameOID.COUNTRY_NAME,
            "postalCode": NameOID.POSTAL_CODE, "serialNumber": NameOID.SERIAL_NUMBER}


class TlsRejection(Exception):
    """What the tls provider would answer with an error; the offline run stops on it like `pulumi up` would."""


def _reject(message: str) -> TlsRejection:
    return TlsRejection(message)


def _private_key(inputs: dict):
    algorithm = inputs.get("algorithm")
    if algorithm == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=int(inputs.get("rsaBits", 2048)))
    if algorithm == "ECDSA":
        curve = inputs.get("ecdsaCurve", "P224")
        if curve not in CURVES:
            raise _reject(f"ecdsa_curve {curve!r} is not one of {', '.join(CURVES)}")
        return ec.generate_private_key(CURVES[curve]())
    if algorithm == "ED25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise _reject(f"algorithm {algorithm!r} is not one of RSA, ECDSA, ED25519")


def _pem_format(key) -> serialization.PrivateFormat:
    if isinstance(key, rsa.RSAPrivateKey):
        return serialization.PrivateFormat.TraditionalOpenSSL  # PKCS#1
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return serialization.PrivateFormat.TraditionalOpenSSL  # SEC1
    return serialization.PrivateFormat.PKCS8


# PEM -> key of the keys this process generated: loading an RSA key checks it (OpenSSL's RSA_check_key tests
# both primes, ~30 ms for 2048 bits), which a key of our own making cannot fail. Anything else is loaded.
_GENERATED: dict[str, Any] = {}


def _load_key(pem: str):
    if pem in _GENERATED:
        return _GENERATED[pem]
    try:
        return serialization.load_pem_private_key(pem.encode(), password=None)
    except (TypeError, ValueError) as exc:
        raise _reject(f"private_key_pem is not a PEM private key: {exc}") from None


def _algorithm_name(key) -> str:
    return "RSA" if isinstance(key, rsa.RSAPrivateKey) else "ECDSA" if isinstance(key, ec.EllipticCurvePrivateKey) \
        else "ED25519"


def _sign_hash(key):
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def private_key(ctx, name: str, raw: dict) -> tuple[str, dict]:
    inputs = unwrap_secrets(raw)
    key = _private_key(inputs)
    public = key.public_key()
    pem = key.private_bytes(serialization.Encoding.PEM, _pem_format(key), serialization.NoEncryption()).decode()
    pkcs8 = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode()
    _GENERATED[pem] = _GENERATED[pkcs8] = key
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha1(der).hexdigest(), {
        **raw, "algorithm": inputs["algorithm"], "rsaBits": int(inputs.get("rsaBits", 2048)),
        "ecdsaCurve": inputs.get("ecdsaCurve", "P224"), "privateKeyPem": pem, "privateKeyPemPkcs8": pkcs8,
        "publicKeyPem": public.public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
        "publicKeyFingerprintSha256": "SHA256:" + hashlib.sha256(der).hexdigest(),
    }


def _subject(inputs: dict) -> x509.Name:
    subject = inputs.get("subject") or {}
    attrs = [x509.NameAttribute(oid, str(subject[key])) for key, oid in _SUBJECT.items() if subject.get(key)]
    attrs += [x509.NameAttribute(NameOID.STREET_ADDRESS, s) for s in subject.get("streetAddresses") or []]
    return x509.Name(attrs)


def _sans(inputs: dict) -> list[x509.GeneralName]:
    return ([x509.DNSName(n) for n in inputs.get("dnsNames") or []]
            + [x509.IPAddress(ipaddress.ip_address(a)) for a in inputs.get("ipAddresses") or []]
            + [x509.UniformResourceIdentifier(u) for u in inputs.get("uris") or []])


def _usage_extensions(builder: x509.CertificateBuilder, inputs: dict) -> x509.CertificateBuilder:
    uses = list(inputs.get("allowedUses") or [])
    unknown = sorted(set(uses) - set(KEY_USAGES) - set(EXTENDED_USAGES))
    if unknown:
        raise _reject(f"allowed_uses {unknown} are not among the provider's values")
    flags = {u: u in uses for u in KEY_USAGES}
    if any(flags.values()):
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=flags["digital_signature"], content_commitment=flags["content_commitment"],
            key_encipherment=flags["key_encipherment"], data_encipherment=flags["data_encipherment"],
            key_agreement=flags["key_agreement"], key_cert_sign=flags["cert_signing"],
            crl_sign=flags["crl_signing"], encipher_only=flags["encipher_only"],
            decipher_only=flags["decipher_only"]), critical=True)
    extended = [EXTENDED_USAGES[u] for u in uses if u in EXTENDED_USAGES]
    if extended:
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended), critical=False)
    return builder


def _certificate(raw: dict, subject: x509.Name, public_key, issuer: x509.Name, signing_key,
                 sans: list[x509.GeneralName], ca_public_key=None) -> tuple[str, dict]:
    """The certificate, and the resource's state: its inputs as given (secrets stay wrapped) plus outputs."""
    inputs = unwrap_secrets(raw)
    hours = inputs.get("validityPeriodHours")
    if hours is None or int(hours) < 0:
        raise _reject("validity_period_hours is required (hours, >= 0)")
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    end = now + datetime.timedelta(hours=int(hours))
    is_ca = bool(inputs.get("isCaCertificate"))
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
               .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=is_ca, path_length=inputs.get("maxPathLength") if is_ca
                                                    and inputs.get("maxPathLength", -1) >= 0 else None),
                              critical=True))
    builder = _usage_extensions(builder, inputs)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if inputs.get("setSubjectKeyId"):
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    if ca_public_key is not None:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public_key),
                                        critical=False)
    cert = builder.sign(signing_key, _sign_hash(signing_key))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return str(cert.serial_number), {
        **raw, "certPem": pem, "validityStartTime": now.isoformat().replace("+00:00", "Z"),
        "validityEndTime": end.isoformat().replace("+00:00", "Z"), "readyForRenewal": False,
        "keyAlgorithm": _algorithm_name(signing_key), "isCaCertificate": is_ca,
    }


def self_signed_cert(ctx, name: str, raw: dict) -> tuple[str, dict]:
    inputs = unwrap_secrets(raw)
    key = _load_key(inputs.get("privateKeyPem") or "")
    subject = _subject(inputs)
    return _certificate(raw, subject, key.public_key(), subject, key, _sans(inputs))


def cert_request(ctx, name: str, raw: dict) -> tuple[str, dict]:
    inputs = unwrap_secrets(raw)
    key = _load_key(inputs.get("privateKeyPem") or "")
    builder = x509.CertificateSigningRequestBuilder().subject_name(_subject(inputs))
    if _sans(inputs):
        builder = builder.add_extension(x509.SubjectAlternativeName(_sans(inputs)), critical=False)
    csr = builder.sign(key, _sign_hash(key))
    pem = csr.public_bytes(serialization.Encoding.PEM).decode()
    return hashlib.sha1(pem.encode()).hexdigest(), {**raw, "certRequestPem": pem,
                                                     "keyAlgorithm": _algorithm_name(key)}


def locally_signed_cert(ctx, name: str, raw: dict) -> tuple[str, dict]:
    """Signs the request with the CA; the request's subject, key and names become the certificate's."""
    inputs = unwrap_secrets(raw)
    try:
        csr = x509.load_pem_x509_csr((inputs.get("certRequestPem") or "").encode())
        ca = x509.load_pem_x509_certificate((inputs.get("caCertPem") or "").encode())
    except ValueError as exc:
        raise _reject(f"cert_request_pem / ca_cert_pem: {exc}") from None
    ca_key = _load_key(inputs.get("caPrivateKeyPem") or "")
    try:
        sans = list(csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        sans = []
    return _certificate(raw, csr.subject, csr.public_key(), ca.subject, ca_key, sans, ca.public_key())


# What a stack's state would hold: an unchanged resource keeps its key and certificate on the next `up`
# (the provider generates them on create only). Remembered per process, so running a program twice
# registers the same keys and certificates (and RSA generation happens once per test session).
_STATE: dict[tuple[str, str, str], tuple[str, dict]] = {}


def _remembered(handler):
    def create(ctx, name: str, raw: dict) -> tuple[str, dict]:
        key = (handler.__name__, name, json.dumps(unwrap_secrets(raw), sort_keys=True, default=str))
        if key not in _STATE:
            _STATE[key] = handler(ctx, name, raw)
        resource_id, state = _STATE[key]
        return resource_id, copy.deepcopy(state)
    return create


HANDLERS: dict[str, Any] = {
    "tls:index/privateKey:PrivateKey": _remembered(private_key),
    "tls:index/selfSignedCert:SelfSignedCert": _remembered(self_signed_cert),
    "tls:index/certRequest:CertRequest": _remembered(cert_request),
    "tls:index/locallySignedCert:LocallySignedCert": _remembered(locally_signed_cert),
}
