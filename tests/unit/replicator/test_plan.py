"""The pure replication plan: local and remote holdings -> pushes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from replicator.plan import Push, files_to_push, in_sync, plan_partition, plan_suffix, suffixes_to_sync
from storage.diskfile import gather_files

T1, T2, T3 = "1700000001.00000", "1700000002.00000", "1700000003.00000"
H = "0" * 29 + "abc"


def test_suffixes_that_differ_or_are_missing_remotely() -> None:
    local = {"abc": "x", "def": "y", "123": "z"}
    remote = {"abc": "x", "def": "other", "fff": "w"}
    assert suffixes_to_sync(local, remote) == ("123", "def")


def test_nothing_to_sync_when_hashes_agree() -> None:
    assert suffixes_to_sync({"abc": "x"}, {"abc": "x"}) == ()
    assert suffixes_to_sync({}, {"abc": "x"}) == ()  # the peer's to push


def test_missing_data_is_pushed() -> None:
    assert files_to_push([f"{T1}.data"], []) == [f"{T1}.data"]


def test_data_and_meta_pushed_durable_first() -> None:
    assert files_to_push([f"{T2}.meta", f"{T1}.data"], []) == [f"{T1}.data", f"{T2}.meta"]


def test_only_the_newer_meta_when_data_is_shared() -> None:
    assert files_to_push([f"{T1}.data", f"{T2}.meta"], [f"{T1}.data"]) == [f"{T2}.meta"]


def test_older_data_is_not_pushed_over_newer() -> None:
    assert files_to_push([f"{T1}.data"], [f"{T2}.data"]) == []


def test_newer_tombstone_beats_remote_data() -> None:
    assert files_to_push([f"{T2}.ts"], [f"{T1}.data"]) == [f"{T2}.ts"]


def test_older_tombstone_loses_to_remote_data() -> None:
    assert files_to_push([f"{T1}.ts"], [f"{T2}.data"]) == []


def test_meta_older_than_remote_data_is_not_pushed() -> None:
    assert files_to_push([f"{T1}.data", f"{T2}.meta"], [f"{T3}.data"]) == []


def test_tombstone_wins_a_tie_with_data() -> None:
    assert files_to_push([f"{T2}.ts"], [f"{T2}.data"]) == [f"{T2}.ts"]
    assert files_to_push([f"{T2}.data"], [f"{T2}.ts"]) == []


def test_unknown_and_obsolete_local_files_are_ignored() -> None:
    local = [f"{T1}.data", f"{T2}.data", "junk.tmp"]
    assert files_to_push(local, []) == [f"{T2}.data"]


def test_plan_suffix_covers_every_hash() -> None:
    other = "1" * 29 + "abc"
    pushes = plan_suffix("abc", {H: [f"{T1}.data"], other: [f"{T2}.ts"]}, {H: [f"{T1}.data"]})
    assert pushes == [Push("abc", other, f"{T2}.ts")]
    assert pushes[0].ext == ".ts"


def test_plan_partition_limits_listing_to_differing_suffixes() -> None:
    plan = plan_partition(
        {"abc": "1", "def": "2"},
        {"abc": "1", "def": "9"},
        {"abc": {H: [f"{T1}.data"]}, "def": {"0" * 29 + "def": [f"{T3}.data"]}},
        {"def": {}},
    )
    assert plan.suffixes == ("def",)
    assert plan.pushes == (Push("def", "0" * 29 + "def", f"{T3}.data"),)


def test_in_sync() -> None:
    assert in_sync({H: [f"{T1}.data"]}, {H: [f"{T2}.ts"]})
    assert not in_sync({H: [f"{T2}.data"]}, {H: [f"{T1}.data"]})


_names = st.lists(
    st.tuples(st.integers(1, 6), st.sampled_from([".data", ".ts", ".meta"])).map(
        lambda p: f"17000000{p[0]:02d}.00000{p[1]}"
    ),
    max_size=5,
    unique=True,
)


@settings(max_examples=150, deadline=None)
@given(local=_names, remote=_names)
def test_after_pushing_the_peer_holds_the_newest_state(local: list[str], remote: list[str]) -> None:
    """Property: remote + pushes counts the same files as the union of both
    sides would, and a second plan pushes nothing."""
    pushed = files_to_push(local, remote)
    after = sorted(set(remote) | set(pushed))
    union = gather_files(sorted(set(remote) | set(gather_files(local).kept)))
    assert gather_files(after).kept == union.kept
    assert files_to_push(local, after) == []
