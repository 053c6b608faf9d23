import pytest

from martlet.errors import BadRequest
from martlet.hashing import HashSection, entity_path, hash_path, hash_path_digest, partition_of_digest

CHANGEME = HashSection(path_prefix="", path_suffix="changeme")


@pytest.mark.parametrize(
    "parts, md5_hex, partition",
    [
        # md5("/a" + "changeme") etc., computed independently with hashlib.
        (("a",), "b8ea67c480b33ac40c79510c7df2b8a8", 0xB8EA67C4 >> 22),
        (("a", "c"), "e8fbcd486a77117e2cd3398aa1f9485f", 0xE8FBCD48 >> 22),
        (("a", "c", "o"), "2f714cd91b0e5d803cde2012b01d7099", 0x2F714CD9 >> 22),
    ],
)
def test_known_vectors(parts: tuple[str, ...], md5_hex: str, partition: int) -> None:
    assert hash_path(*parts, settings=CHANGEME) == md5_hex
    assert partition_of_digest(hash_path_digest(*parts, settings=CHANGEME), 10) == partition
    assert partition in (739, 931, 189)


def test_prefix_and_suffix_change_the_hash() -> None:
    base = hash_path("a", "c", "o", settings=CHANGEME)
    assert hash_path("a", "c", "o", settings=HashSection("p", "changeme")) != base
    assert hash_path("a", "c", "o", settings=HashSection("", "other")) != base


def test_unicode_names_hash_as_utf8() -> None:
    import hashlib

    expected = hashlib.md5("/ä/ç/ø/ö changeme".encode()).hexdigest()
    assert hash_path("ä", "ç", "ø/ö ", settings=HashSection("", "changeme")) == expected


def test_object_without_container_is_refused() -> None:
    with pytest.raises(BadRequest):
        entity_path("a", None, "o")
    assert entity_path("a", "c", "o/p") == "/a/c/o/p"
