"""Shared test set-up."""

from __future__ import annotations

import pytest

PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    # slack_sdk honours HTTP(S)_PROXY but not NO_PROXY: loopback fakes must be reached directly.
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
