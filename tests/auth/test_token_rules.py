"""The child-token rule, without a server: which policies a new token gets, and who may ask."""

import pytest

from trustee.auth.token_rules import CREATE_PATH, child_token_policies
from trustee.auth.token_store import TokenEntry
from trustee.errors import InvalidRequest, PermissionDenied


class Grants:
    """An authorizer that allows exactly the (path, capability) pairs it is given, and counts
    how often it is asked."""

    def __init__(self, *allowed: tuple[str, str]) -> None:
        self.allowed_pairs = set(allowed)
        self.asked: list[tuple[str, str]] = []

    def allowed(self, token: TokenEntry, path: str, capability: str) -> bool:
        self.asked.append((path, capability))
        return (path, capability) in self.allowed_pairs


def caller(*policies: str) -> TokenEntry:
    return TokenEntry(
        accessor="acc",
        policies=list(policies),
        metadata={},
        display_name="token",
        created_time=0.0,
        expire_time=None,
        ttl=0,
        explicit_max_ttl=0,
        renewable=True,
        parent_accessor=None,
    )


def rule(entry: TokenEntry, requested, *, no_default=False, no_parent=False, grants=None):
    return child_token_policies(
        entry,
        requested,
        no_default_policy=no_default,
        no_parent=no_parent,
        authorizer=grants or Grants(),
    )


def test_inherits_the_callers_policies_and_adds_default() -> None:
    assert rule(caller("ops"), None) == ["default", "ops"]
    assert rule(caller("default", "ops"), None) == ["default", "ops"]  # default once
    assert rule(caller("ops"), None, no_default=True) == ["ops"]


def test_names_take_their_one_form() -> None:
    assert rule(caller("ops"), [" OPS "], no_default=True) == ["ops"]
    with pytest.raises(InvalidRequest):
        rule(caller("ops"), ["no spaces inside"])


def test_a_child_carries_no_policy_its_parent_lacks() -> None:
    with pytest.raises(PermissionDenied, match="subset"):
        rule(caller("ops"), ["admin"])
    with pytest.raises(PermissionDenied, match="subset"):
        rule(caller("ops"), ["root"])


def test_root_makes_anything_and_root_tokens_get_no_default() -> None:
    grants = Grants()
    assert rule(caller("root"), ["root"], no_parent=True, grants=grants) == ["root"]
    assert rule(caller("root"), ["admin"], grants=grants) == ["admin", "default"]  # sorted
    assert grants.asked == []  # root needs no sudo check


def test_an_orphan_needs_sudo_on_token_create() -> None:
    with pytest.raises(PermissionDenied, match="sudo"):
        rule(caller("ops"), None, no_parent=True)
    grants = Grants((CREATE_PATH, "sudo"))
    assert rule(caller("ops"), None, no_parent=True, grants=grants) == ["default", "ops"]
    assert grants.asked == [(CREATE_PATH, "sudo")]
