"""README §5: new, update, cancel, withdrawal and a changed child key."""

from gateway.records import LiveChild, plan

CASES = {"a": "case-a", "b": "case-b", "c": "case-c"}


def test_first_snapshot_is_new() -> None:
    p = plan(live=[], snapshot=["a", "b"], withdraw=False, new_case_key=CASES)
    assert [(n.event, n.child_key, n.index) for n in p.notifications] == [
        ("new", "a", 0),
        ("new", "b", 1),
    ]
    assert p.live_after == {"a": "case-a", "b": "case-b"}


def test_live_child_gets_update_missing_child_gets_cancel() -> None:
    live = [LiveChild("a", "case-a"), LiveChild("b", "case-b")]
    p = plan(live=live, snapshot=["a", "c"], withdraw=False, new_case_key=CASES)
    # exactly one unmatched on each side: the same child whose key changed
    assert [(n.event, n.child_key, n.case_key, n.key_changed) for n in p.notifications] == [
        ("update", "a", "case-a", False),
        ("update", "c", "case-b", True),
    ]
    assert p.live_after == {"a": "case-a", "c": "case-b"}


def test_two_unmatched_are_not_guessed() -> None:
    live = [LiveChild("a", "case-a"), LiveChild("b", "case-b")]
    p = plan(live=live, snapshot=["c"], withdraw=False, new_case_key=CASES)
    assert sorted((n.event, n.child_key) for n in p.notifications) == [
        ("cancel", "a"),
        ("cancel", "b"),
        ("new", "c"),
    ]


def test_withdrawal_cancels_every_live_child() -> None:
    live = [LiveChild("a", "case-a")]
    p = plan(live=live, snapshot=["a", "b"], withdraw=True, new_case_key=CASES)
    assert [(n.event, n.child_key) for n in p.notifications] == [("cancel", "a")]
    assert p.live_after == {}
    empty = plan(live=[], snapshot=[], withdraw=True, new_case_key=CASES)
    assert empty.notifications == [] and empty.cancel_of_unknown


def test_record_wholly_out_of_scope_cancels() -> None:
    p = plan(live=[LiveChild("a", "case-a")], snapshot=[], withdraw=False, new_case_key=CASES)
    assert [(n.event, n.child_key) for n in p.notifications] == [("cancel", "a")]


def test_cancelled_child_comes_back_as_new() -> None:
    p = plan(live=[], snapshot=["a"], withdraw=False, new_case_key=CASES)
    assert p.notifications[0].event == "new"
