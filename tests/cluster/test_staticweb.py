"""Static web sites (``proxy.staticweb``) on a real cluster started like
``martlet dev``: index, listings, redirects and error pages, for
anonymous readers and ``X-Web-Mode`` requests, and nothing more than the
reader's own rights allow."""

from __future__ import annotations

import pytest
import requests

from tests.cluster.cluster_harness import RunningCluster
from tests.cluster.feature_helpers import call, feature_cluster

pytestmark = pytest.mark.cluster

cluster = feature_cluster("staticweb")


@pytest.fixture(scope="module")
def site(cluster: RunningCluster) -> str:
    """A public container ``site`` (listable) and a private one ``hidden``."""
    assert call(cluster, "PUT", "site", headers={"X-Container-Read": ".r:*,.rlistings"}).status_code in (201, 202)
    assert call(cluster, "PUT", "readable", headers={"X-Container-Read": ".r:*"}).status_code in (201, 202)
    assert call(cluster, "PUT", "hidden").status_code in (201, 202)
    for container in ("site", "readable", "hidden"):
        for name, body in (("index.html", b"the index"), ("404error.html", b"not here"), ("dir/a.txt", b"a"),
                           ("s.css", b"h1 {}")):
            assert call(cluster, "PUT", f"{container}/{name}", data=body).status_code == 201
        assert call(cluster, "PUT", f"{container}/dir", data=b"",
                    headers={"Content-Type": "application/directory"}).status_code == 201
        assert call(cluster, "POST", container, headers={
            "X-Container-Meta-Web-Index": "index.html", "X-Container-Meta-Web-Error": "error.html",
            "X-Container-Meta-Web-Listings": "true", "X-Container-Meta-Web-Listings-Css": "s.css"}).status_code == 204
    return cluster.auth("test:tester", "testing")[0]


def anon(url: str) -> requests.Response:
    """An anonymous GET, redirects not followed."""
    return requests.get(url, timeout=30, allow_redirects=False)


def test_info(cluster: RunningCluster) -> None:
    assert requests.get(cluster.proxy + "/info", timeout=30).json()["staticweb"] == {}


def test_anonymous_site(cluster: RunningCluster, site: str) -> None:
    redirect = anon(f"{site}/site")
    assert redirect.status_code == 301 and redirect.headers["Location"].endswith("/site/")
    index = anon(f"{site}/site/")
    assert (index.status_code, index.content) == (200, b"the index")
    directory = anon(f"{site}/site/dir")
    assert directory.status_code == 301 and directory.headers["Location"].endswith("/site/dir/")
    listing = anon(f"{site}/site/dir/")
    assert listing.status_code == 200 and '<a href="./a.txt">a.txt</a>' in listing.text
    assert 'href="../s.css"' in listing.text and "Listing of" in listing.text
    missing = anon(f"{site}/site/nowhere")
    assert (missing.status_code, missing.content) == (404, b"not here")
    assert anon(f"{site}/site/dir/a.txt").content == b"a"


def test_the_readers_rights_hold(cluster: RunningCluster, site: str) -> None:
    # Readable but not listable: objects and the index yes, listings no.
    assert anon(f"{site}/readable/").content == b"the index"
    assert anon(f"{site}/readable/dir/").status_code == 401
    # Private: nothing, whatever the site settings say.
    for path in ("hidden/", "hidden/dir/", "hidden/index.html", "hidden/nowhere"):
        assert anon(f"{site}/{path}").status_code == 401, path


def test_web_mode_for_the_owner(cluster: RunningCluster, site: str) -> None:
    plain = call(cluster, "GET", "hidden/", allow_redirects=False)
    assert plain.status_code == 200 and "index.html" in plain.text  # an API listing, not the site
    web = call(cluster, "GET", "hidden/", headers={"X-Web-Mode": "true"}, allow_redirects=False)
    assert (web.status_code, web.content) == (200, b"the index")
    web = call(cluster, "GET", "hidden/dir/", headers={"X-Web-Mode": "true"})
    assert web.status_code == 200 and '<a href="./a.txt">a.txt</a>' in web.text
