import pytest

from martlet.accept import TEXT_FORMATS, best_match
from martlet.errors import BadRequest


def test_best_match() -> None:
    assert best_match(None) == "text/plain"
    assert best_match("*/*") == "text/plain"
    assert best_match("application/*") == "application/json"
    assert best_match("text/xml;q=0.9, application/xml") == "application/xml"
    assert best_match("text/xml, text/plain;q=0") == "text/xml"
    assert best_match("image/png") is None
    assert best_match("application/json", TEXT_FORMATS[:1]) is None
    with pytest.raises(BadRequest):
        best_match("text/plain;q=high")
