"""The Slack client's TLS context: verifying as the default one does, its trust loaded at first use."""

from __future__ import annotations

import socket
import ssl

from bot.slack.tls import LazyTrustContext


def test_it_verifies_as_the_default_context_does() -> None:
    context = LazyTrustContext()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.protocol == ssl.PROTOCOL_TLS_CLIENT


def test_the_trusted_certificates_are_loaded_at_the_first_connection_only() -> None:
    context = LazyTrustContext()
    assert context.cert_store_stats()["x509_ca"] == 0
    expected = ssl.create_default_context().cert_store_stats()["x509_ca"]
    with socket.socket() as plain:
        context.wrap_socket(plain, server_hostname="slack.com", do_handshake_on_connect=False).detach()
    assert context.cert_store_stats()["x509_ca"] == expected
