"""The pure part of static web sites (``proxy.staticweb``): settings,
which requests are web requests, and the HTML listing."""

from __future__ import annotations

from proxy.staticweb import WebConfig, is_web_request, listing_html, tempurl_suffix

ROWS = [{"name": "index.html", "bytes": 5, "content_type": "text/html", "last_modified": "2026-12-04T06:00:00.1"},
        {"subdir": "some sub%dir/"}, {"name": "a<b>&c", "bytes": 1, "content_type": "text/plain"}]


def test_settings_from_metadata() -> None:
    assert not WebConfig.of({}).is_site
    config = WebConfig.of({"web-index": "index.html", "web-listings": "True", "web-listings-css": "s.css",
                           "web-error": "error.html"})
    assert config == WebConfig("index.html", "error.html", True, "s.css", "application/directory")
    assert config.is_site
    assert not WebConfig.of({"web-listings": "nope"}).listings
    assert WebConfig.of({"web-directory-type": "text/directory"}).directory_type == "text/directory"


def test_web_requests() -> None:
    assert is_web_request({})
    assert is_web_request({"X-Auth-Token": "t", "X-Web-Mode": "true"})
    assert not is_web_request({"X-Auth-Token": "t"})
    assert not is_web_request({"X-Storage-Token": "t", "X-Web-Mode": "false"})


def test_listing_of_the_container() -> None:
    page = listing_html("/v1/AUTH_t/c/", "", ROWS, None)
    assert "Listing of /v1/AUTH_t/c/" in page
    assert '<a href="./index.html">index.html</a>' in page
    assert '<a href="./some%20sub%25dir/">some sub%dir/</a>' in page
    assert '<a href="./a%3Cb%3E%26c">a&lt;b&gt;&amp;c</a>' in page  # names are escaped, never markup
    assert 'href="../"' not in page


def test_listing_of_a_directory_with_css() -> None:
    rows = [{"subdir": "d/e/"}, {"name": "d/o", "bytes": 2}]
    page = listing_html("/v1/AUTH_t/c/d/", "d/", rows, "s.css")
    assert '<link rel="stylesheet" type="text/css" href="../s.css" />' in page
    assert '<a href="./e/">e/</a>' in page and '<a href="./o">o</a>' in page
    assert 'href="../"' in page


def test_links_carry_a_prefix_tempurl() -> None:
    query = {"temp_url_sig": "abc", "temp_url_expires": "123", "temp_url_prefix": "d/", "inline": ""}
    suffix, top = tempurl_suffix(query)
    assert suffix == "?temp_url_prefix=d/&amp;temp_url_expires=123&amp;temp_url_sig=abc&amp;inline"
    page = listing_html("/v1/AUTH_t/c/d/", "d/", [{"name": "d/o"}], None, suffix, top)
    assert f'<a href="./o{suffix}">o</a>' in page and 'href=".."' not in page
    assert tempurl_suffix({"temp_url_sig": "abc"}) == ("", None)
