"""The Slack client's TLS context: verifying as the default one does, its trust loaded at first use."""

from __future__ import annotations

import copy
import socket
import ssl

from slack_sdk import WebClient

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


def test_a_copy_of_the_client_shares_the_context() -> None:
    # Bolt deep-copies every request for its lazy listeners, the WebClient with it.
    client = WebClient(token="xoxb-test", ssl=LazyTrustContext())
    assert copy.deepcopy(client).ssl is client.ssl
    assert copy.copy(client.ssl) is client.ssl
