"""The HTTP session the serving sources read with: a GET lost to a stale pooled connection is sent again.

A pooled keep-alive connection can be closed by the server (its idle timeout) at the moment
the client sends its next request on it. The request is then lost with ``RemoteDisconnected``
or ``ConnectionResetError`` although the server is healthy, and no server timeout can rule
this out. Sending an idempotent GET once more, on a fresh connection, is the fix every mature
client has (Go's ``net/http`` does it unasked). Only connection-level failures are retried,
once and at once: never an HTTP status (a 5xx is the server's answer), never a timeout (a
server that is slow now would only double the wait), never a method other than GET.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Self

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError, ReadTimeoutError
from urllib3.util.retry import Retry

if TYPE_CHECKING:
    from urllib3.connectionpool import ConnectionPool
    from urllib3.response import BaseHTTPResponse


class StaleConnectionRetry(Retry):
    """urllib3's ``Retry`` for one more try of a GET after a connect or read error that is not a timeout."""

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        if isinstance(error, ReadTimeoutError):
            raise error  # as urllib3 does with read=False: requests reports it as ReadTimeout
        if isinstance(error, ConnectTimeoutError) and not isinstance(error, NewConnectionError):
            # requests reports it as ConnectTimeout. MaxRetryError annotates its pool as required, yet
            # takes None and urllib3's own Retry.increment hands it an optional pool just like this one.
            raise MaxRetryError(_pool, url, error) from error  # type: ignore[arg-type]
        return super().increment(method, url, response, error, _pool, _stacktrace)


def retrying_session() -> requests.Session:
    """A ``requests.Session`` whose GETs are retried once on a stale or refused connection."""
    retry = StaleConnectionRetry(
        total=1,
        connect=1,
        read=1,
        status=0,
        other=0,
        allowed_methods=frozenset({"GET"}),
        backoff_factor=0,
        raise_on_status=False,
    )
    adapter = HTTPAdapter(max_retries=retry)
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
