from urllib.parse import quote

import pytest

from proxy.edge import www_authenticate


@pytest.mark.parametrize(
    "path,realm",
    [
        ("/v1/AUTH_test", "AUTH_test"),
        ("/v1/AUTH_test/c/o?x=1", "AUTH_test"),
        ("/v1/AUTH_t%C3%A9st/c", "AUTH_t%C3%A9st"),
        ("/auth/v1.0", "unknown"),
        ("/v1.0", "unknown"),
        ("/v1", "unknown"),
        ("/v1/", "unknown"),
        ("//AUTH_test", "unknown"),
        ("/", "unknown"),
    ],
)
def test_realm_is_the_account_quoted(path: str, realm: str) -> None:
    assert www_authenticate(path) == f'Swift realm="{realm}"'


def test_realm_cannot_inject_headers() -> None:
    """A quote or a newline in the account stays quoted (Swift's functional test)."""
    hax = 'AUTH_haxx"\nContent-Length: 13\n\n<b>Hello World'
    assert www_authenticate("/v1/" + quote(hax)) == f'Swift realm="{quote(hax)}"'
