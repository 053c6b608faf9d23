"""What every answer of the proxy carries, whoever built it.

``finish_headers`` runs on every response as it is prepared (aiohttp's
``on_response_prepare``), after aiohttp has settled its own headers, so the
headers Swift's clients look for are added in one place rather than by
each handler:

- ``X-Trans-Id`` and ``X-Openstack-Request-Id``, the transaction id;
- ``Content-Type: text/html; charset=UTF-8`` on an answer that has none
  (a 201, a 204 of a DELETE...): swob's default, which Swift's clients see;
- ``WWW-Authenticate: Swift realm="<account>"`` on a 401 (swob's rule: the
  account the path names, quoted, else ``unknown``);
- ``Content-Length: 0`` on a 204, which Swift sends and its functional
  tests require, and which aiohttp removes;
- ``Connection: keep-alive`` when the client asked for it and the
  connection stays open, as eventlet echoes it; ``Connection: close`` on a
  411, whose request may have sent a body of unknown length anyway: what
  follows on the connection cannot be told apart from it.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from martlet.http import ANSWER_CONTENT_TYPE, raw_path_bytes
from martlet.logs import trans_id_var


def www_authenticate(raw_path: str) -> str:
    """The challenge of a 401 for ``raw_path``: the second name of a path
    of at least two names is the realm, unless it is ``auth`` or ``v1.0``
    (the auth URLs)."""
    names = raw_path_bytes(raw_path.split("?", 1)[0]).split(b"/", 3)
    realm = "unknown"
    if len(names) >= 3 and not names[0] and names[1] and names[2]:
        if names[2] not in (b"auth", b"v1.0"):
            realm = quote(names[2], safe="/")
    return f'Swift realm="{realm}"'


def _asks_keep_alive(request: web.BaseRequest) -> bool:
    return any(token.strip().lower() == "keep-alive" for token in request.headers.get("Connection", "").split(","))


async def finish_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Add what every answer carries (see the module docstring).

    Plain responses are prepared after the middlewares returned (and the
    context variable was reset), so a trans id already on the response wins.
    """
    trans_id = response.headers.get("X-Trans-Id") or trans_id_var.get()
    response.headers["X-Trans-Id"] = trans_id
    response.headers["X-Openstack-Request-Id"] = trans_id
    if "Content-Type" not in response.headers:
        response.headers["Content-Type"] = ANSWER_CONTENT_TYPE
    if response.status == 401 and "WWW-Authenticate" not in response.headers:
        response.headers["WWW-Authenticate"] = www_authenticate(request.rel_url.raw_path)
    if response.status == 204:
        response.headers["Content-Length"] = "0"
    if response.status == 411:
        response.force_close()
        response.headers["Connection"] = "close"
    elif "Connection" not in response.headers and response.keep_alive and _asks_keep_alive(request):
        response.headers["Connection"] = "keep-alive"
