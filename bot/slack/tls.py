"""One TLS context for every connection to Slack, its trusted certificates loaded at the first
TLS handshake.

Without one, slack_sdk makes a context per call: urllib builds a default context for each Web API
request, and the socket-mode client one for each connection, plain `ws://` included — each loading
the system's certificates anew (~0.8 MB of OpenSSL's memory each, 2.3 MB for the first, which the
allocator keeps after they are freed). Given to the `WebClient`, this one serves both (the
socket-mode client uses the Web API client's), and a bot whose Slack is plain HTTP (the loopback
fakes) never loads them at all.
"""

from __future__ import annotations

import ssl
import threading
from typing import Any

__all__ = ["LazyTrustContext"]


class LazyTrustContext(ssl.SSLContext):
    """Verifies as `ssl.create_default_context()` does (certificate and host name required, the
    system's trusted certificates), loading those certificates when it first wraps a connection."""

    _trusted: bool
    _trusting: threading.Lock

    def __new__(cls, *args: Any, **kwargs: Any) -> LazyTrustContext:
        context = super().__new__(cls, ssl.PROTOCOL_TLS_CLIENT)
        context._trusted = False
        context._trusting = threading.Lock()
        return context

    def __deepcopy__(self, memo: dict[int, Any]) -> LazyTrustContext:
        # Bolt deep-copies each request for its lazy listeners, the client and this with it: the
        # copy shares the one context (wrapping connections from several threads is safe).
        return self

    def __copy__(self) -> LazyTrustContext:
        return self

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        self._trust()
        return super().wrap_socket(*args, **kwargs)

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        self._trust()
        return super().wrap_bio(*args, **kwargs)

    def _trust(self) -> None:
        if self._trusted:
            return
        with self._trusting:
            if not self._trusted:
                self.load_default_certs(ssl.Purpose.SERVER_AUTH)
                self._trusted = True
