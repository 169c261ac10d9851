"""The operator commands' ``--api URL`` mode: read (and cancel) through a running daemon's HTTP API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
import typer

from monitor.cli.common import fail

ApiOption = typer.Option(
    None,
    "--api",
    envvar="MODELHEALTHD_API",
    help="Ask a running daemon at this URL (http://host:9108) instead of reading the state store.",
)
TokenFileOption = typer.Option(
    None, "--token-file", help="The API token for writes; defaults to the config's api token."
)


class ApiAnswer(Exception):
    """The daemon answered with an error status; ``status`` and ``detail`` say which."""

    def __init__(self, status: int, detail: str):
        self.status, self.detail = status, detail
        super().__init__(f"{status}: {detail}")


def _detail(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("detail", body)) if isinstance(body, dict) else str(body)


def call(
    method: str,
    base: str,
    path: str,
    *,
    token: str | None = None,
    params: dict[str, Any] | None = None,
    json: Any = None,
) -> Any:
    """One API call; unreachable daemons exit 1, error statuses raise :class:`ApiAnswer`."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = base.rstrip("/") + path
    try:
        response = requests.request(method, url, headers=headers, params=params, json=json, timeout=15)
    except requests.RequestException as exc:
        raise fail(f"the daemon's API at {base} is unreachable: {exc}") from None
    if response.status_code >= 400:
        raise ApiAnswer(response.status_code, _detail(response))
    return response.json()


def call_object(
    method: str,
    base: str,
    path: str,
    *,
    token: str | None = None,
    params: dict[str, Any] | None = None,
    json: Any = None,
) -> dict[str, Any]:
    """:func:`call` for an endpoint that answers a JSON object; any other answer exits 1, naming it."""
    answer = call(method, base, path, token=token, params=params, json=json)
    if not isinstance(answer, dict):
        raise fail(_unexpected(base, path, answer, "a JSON object"))
    return answer


def call_list(
    method: str, base: str, path: str, *, token: str | None = None, params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """:func:`call` for an endpoint that answers a list of JSON objects; any other answer exits 1."""
    answer = call(method, base, path, token=token, params=params)
    if not isinstance(answer, list) or not all(isinstance(item, dict) for item in answer):
        raise fail(_unexpected(base, path, answer, "a list of JSON objects"))
    return answer


def _unexpected(base: str, path: str, answer: Any, expected: str) -> str:
    shown = repr(answer)
    shown = shown if len(shown) <= 120 else shown[:117] + "..."
    return f"the daemon's API at {base} answered {path} with {shown}; expected {expected}"


def read_token(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text().strip() or None
    except OSError as exc:
        raise fail(f"cannot read the token file {path}: {exc.strerror or exc}", 2) from None
