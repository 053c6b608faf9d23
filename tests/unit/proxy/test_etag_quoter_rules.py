from proxy.etag_quoter import quote_etag, setting_update


def test_quote_etag() -> None:
    assert quote_etag("abc") == '"abc"'
    assert quote_etag('"abc"') == '"abc"'
    assert quote_etag('W/"abc"') == 'W/"abc"'
    assert quote_etag('"') == '"""'


def test_setting_update() -> None:
    assert setting_update({}, "container") == {}
    assert setting_update({"X-Container-Rfc-Compliant-Etags": "t"}, "container") == {
        "X-Container-Sysmeta-Rfc-Compliant-Etags": "True"}
    assert setting_update({"X-Account-Rfc-Compliant-Etags": "nope"}, "account") == {
        "X-Account-Sysmeta-Rfc-Compliant-Etags": "False"}
    assert setting_update({"X-Account-Rfc-Compliant-Etags": ""}, "account") == {
        "X-Account-Sysmeta-Rfc-Compliant-Etags": ""}
    assert setting_update({"X-Container-Rfc-Compliant-Etags": "t", "X-Remove-Container-Rfc-Compliant-Etags": "1"},
                          "container") == {"X-Container-Sysmeta-Rfc-Compliant-Etags": ""}
