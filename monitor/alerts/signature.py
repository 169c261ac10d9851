"""Grafana's webhook signature: hex HMAC-SHA256 of the body, or of ``timestamp:body``.

Grafana's webhook contact point signs a request when its ``hmacConfig`` has a secret. With a
``timestampHeader`` it puts the Unix time (seconds) in that header and signs
``timestamp + ":" + body``, which lets the receiver refuse a captured request replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass


class SignatureError(Exception):
    """The request is not signed with the configured secret (or is too old); the reply is 401."""


@dataclass(frozen=True)
class SignatureCheck:
    """How requests are signed: the secret, the header names and the replay window in seconds."""

    secret: str
    header: str = "X-Grafana-Alerting-Signature"
    timestamp_header: str | None = None
    max_age_s: float = 300.0

    def sign(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        """The headers Grafana would send with ``body`` (for tests and for checking a setup)."""
        headers = {}
        message = body
        if self.timestamp_header:
            if timestamp is None:
                raise ValueError(f"{self.timestamp_header} is configured: give a timestamp")
            headers[self.timestamp_header] = str(timestamp)
            message = f"{timestamp}:".encode() + body
        headers[self.header] = hmac.new(self.secret.encode(), message, hashlib.sha256).hexdigest()
        return headers

    def verify(self, body: bytes, headers: Mapping[str, str], now: float) -> None:
        """Raise :class:`SignatureError` unless ``headers`` carry a valid, fresh signature of ``body``.

        ``headers`` must look names up case-insensitively (as Starlette's headers do).
        """
        given = headers.get(self.header)
        if not given:
            raise SignatureError(
                f"missing {self.header} header: the Grafana contact point must sign requests"
            )
        message = body
        stamp = None
        if self.timestamp_header:
            text = headers.get(self.timestamp_header)
            if not text:
                raise SignatureError(f"missing {self.timestamp_header} header (the signed timestamp)")
            try:
                stamp = int(text.strip())
            except ValueError:
                raise SignatureError(
                    f"{self.timestamp_header}: got {text[:40]!r}; expected Unix seconds"
                ) from None
            message = f"{stamp}:".encode() + body
        expected = hmac.new(self.secret.encode(), message, hashlib.sha256).hexdigest().encode()
        if not hmac.compare_digest(expected, given.strip().lower().encode("utf-8", "replace")):
            raise SignatureError(f"{self.header} does not match the body signed with the configured secret")
        if stamp is not None and abs(now - stamp) > self.max_age_s:
            raise SignatureError(
                f"{self.timestamp_header}: signed {abs(now - stamp):.0f}s away from now; "
                f"requests older than {self.max_age_s:g}s are refused as replays"
            )
