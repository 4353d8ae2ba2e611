"""Test certificates for TLS listeners: a trustme CA, a server certificate in files that a test can
swap for a newly issued one (certificate reload), client contexts that trust the CA."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import trustme


def der(leaf: trustme.LeafCert) -> bytes:
    """The DER bytes of a leaf certificate (what ``getpeercert(binary_form=True)`` gives)."""
    return ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())


def peer_der(ssl_object: object) -> bytes:
    assert isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket)
    cert = ssl_object.getpeercert(binary_form=True)
    assert cert is not None
    return cert


class TlsFiles:
    """``cert`` and ``key`` hold the current server certificate for localhost / 127.0.0.1."""

    def __init__(self, folder: Path) -> None:
        self.ca = trustme.CA()
        self.folder = folder
        self.cert, self.key = folder / "server.pem", folder / "server.key"
        self.current = self.issue()

    def issue(self) -> trustme.LeafCert:
        """Issue a new server certificate and replace the files with it (each file atomically)."""
        leaf = self.ca.issue_cert("localhost", "127.0.0.1")
        for blob, path in ((leaf.cert_chain_pems[0], self.cert), (leaf.private_key_pem, self.key)):
            tmp = path.with_suffix(".tmp")
            blob.write_to_path(str(tmp))
            os.replace(tmp, path)
        self.current = leaf
        return leaf

    def ca_file(self) -> Path:
        path = self.folder / "ca.pem"
        self.ca.cert_pem.write_to_path(str(path))
        return path

    def client(self, cert: trustme.LeafCert | None = None) -> ssl.SSLContext:
        """A client context trusting the test CA, presenting ``cert`` when given."""
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        if cert is not None:
            cert.configure_cert(ctx)
        return ctx
