"""Stopping a loopback server at once.

`socketserver`'s `shutdown()` sets a flag that `serve_forever` looks at only when its `select()`
returns: after a connection arrives, or after its poll interval. The fakes start and stop with
nearly every test, so that interval was waited out hundreds of times a run: `stop_serving` knocks
(connects and hangs up) until the loop has seen the flag.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from typing import Any


def stop_serving(server: socketserver.BaseServer) -> None:
    """`server.shutdown()`, without waiting out `serve_forever`'s poll interval."""
    stopping = threading.Thread(target=server.shutdown, name="stop-serving", daemon=True)
    stopping.start()
    address: Any = server.server_address  # an AF_INET server's: (host, port)
    host, port = address[0], address[1]
    while stopping.is_alive():
        with contextlib.suppress(OSError):
            socket.create_connection((str(host), int(port)), timeout=1).close()
        stopping.join(0.002)
