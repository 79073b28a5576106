"""ACL policy parsing and evaluation (trustee.auth.policy): pure, no storage."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trustee.auth.policy import (
    DEFAULT_POLICY,
    PolicyError,
    Rule,
    allows,
    granted,
    parse_policy,
    priority,
)

ALICE_ONLY_HCL = """
# may claim as trustee alice, and nothing else
path "trustee/trustees/alice/claim" {
  capabilities = ["update"]   // the claim action is an update
}
"""

ALICE_ONLY_JSON = json.dumps(
    {"path": {"trustee/trustees/alice/claim": {"capabilities": ["update"]}}}
)


@pytest.mark.parametrize("text", [ALICE_ONLY_HCL, ALICE_ONLY_JSON])
def test_hcl_and_json_parse_alike(text):
    policy = parse_policy(text)
    assert policy.rules == (Rule("trustee/trustees/alice/claim", frozenset({"update"})),)
    assert allows([policy], "trustee/trustees/alice/claim", "update")
    assert not allows([policy], "trustee/trustees/bob/claim", "update")
    assert not allows([policy], "trustee/trustees/alice/claim", "read")
    assert not allows([policy], "trustee/trustees", "list")


def test_json_round_trip():
    policy = parse_policy(
        'path "a/*" { capabilities = ["read", "list"] }\n/* block */ path "b" { capabilities = [] }'
    )
    assert parse_policy(json.dumps(policy.to_json())) == policy


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('path "a/b" { capabilities = ["reed"] }', 'path "a/b": unknown capabilities'),
        ('path "a/b" { capabilities = ["read"], policy = "x" }', "expected"),
        ('path "a/b" { allowed_parameters = ["x"] }', 'path "a/b": unknown keys'),
        ('path "a/*/b" { capabilities = ["read"] }', "only allowed as the last"),
        ('path "a/b+/c" { capabilities = ["read"] }', "whole path segment"),
        ('policy = "read"', "unknown top-level key"),
        ('path "a" { capabilities = ["read"]', "unexpected end"),
        ("", "empty"),
        ('{"path": {"x": {"capabilities": ["delete", "fly"]}}}', 'path "x": unknown capabilities'),
        ('{"paths": {}}', "unknown top-level keys"),
        ("{not json", "policy JSON"),
        ('path "a" { capabilities = ["read"] } @', "unexpected '@'"),
    ],
)
def test_bad_policies_name_the_problem(text, fragment):
    with pytest.raises(PolicyError, match=None) as caught:
        parse_policy(text)
    assert fragment in caught.value.message


def test_globs():
    star = Rule("trustee/trustees/al*", frozenset({"read"}))
    assert star.matches("trustee/trustees/alice")
    assert star.matches("trustee/trustees/alice/claim")
    assert not star.matches("trustee/trustees/bob")
    plus = Rule("trustee/trustees/+/claim", frozenset({"update"}))
    assert plus.matches("trustee/trustees/alice/claim")
    assert not plus.matches("trustee/trustees/claim")
    assert not plus.matches("trustee/trustees/a/b/claim")
    exact = Rule("trustee/trustees", frozenset({"list"}))
    assert exact.matches("trustee/trustees")
    assert not exact.matches("trustee/trustees/alice")
    assert Rule("*", frozenset({"read"})).matches("anything/at/all")


def test_most_specific_rule_wins_within_a_policy():
    policy = parse_policy(
        """
        path "trustee/*" { capabilities = ["deny"] }
        path "trustee/trustees/+/claim" { capabilities = ["update"] }
        path "trustee/trustees/alice/claim" { capabilities = ["read"] }
        """
    )
    assert granted([policy], "trustee/trustees/alice/claim") == {"read"}
    assert granted([policy], "trustee/trustees/bob/claim") == {"update"}
    assert granted([policy], "trustee/trustees/bob") == frozenset()


def test_priority_order():
    ordered = [
        "*",
        "a/*",
        "a/+/c",
        "a/b/*",
        "a/b/c*",
        "a/b/c",
    ]
    keys = [priority(Rule(pattern, frozenset())) for pattern in ordered]
    assert keys == sorted(keys)


def test_a_more_specific_deny_in_another_policy_wins():
    grant = parse_policy('path "trustee/trustees/*" { capabilities = ["read", "update"] }')
    deny = parse_policy('path "trustee/trustees/bob*" { capabilities = ["deny"] }')
    assert allows([grant, deny], "trustee/trustees/alice", "read")
    assert not allows([grant, deny], "trustee/trustees/bob", "read")
    assert not allows([deny, grant], "trustee/trustees/bob/claim", "update")


def test_the_most_specific_pattern_wins_across_policies_as_in_vault():
    # Vault merges a token's policies: the most specific matching pattern decides, wherever
    # it is written, so an exact grant beats a wildcard deny in another policy...
    deny_all = parse_policy('path "trustee/*" { capabilities = ["deny"] }')
    alice = parse_policy('path "trustee/trustees/alice/claim" { capabilities = ["update"] }')
    assert allows([deny_all, alice], "trustee/trustees/alice/claim", "update")
    assert not allows([deny_all, alice], "trustee/trustees/bob/claim", "update")
    # ...and a deny on the same pattern, in any policy, beats every grant.
    no_alice = parse_policy('path "trustee/trustees/alice/claim" { capabilities = ["deny"] }')
    assert not allows([alice, no_alice], "trustee/trustees/alice/claim", "update")
    assert not allows([no_alice, alice], "trustee/trustees/alice/claim", "update")


def test_a_less_specific_grant_does_not_add_to_the_chosen_rule():
    broad = parse_policy('path "trustee/trustees/*" { capabilities = ["read", "update"] }')
    narrow = parse_policy('path "trustee/trustees/alice" { capabilities = ["read"] }')
    assert granted([broad, narrow], "trustee/trustees/alice") == {"read"}
    assert granted([broad, narrow], "trustee/trustees/bob") == {"read", "update"}


@pytest.mark.parametrize(
    ("rules", "allowed"),
    [
        ('path "trustee/trustees/*" { capabilities = ["list"] }', True),
        ('path "trustee/trustees/" { capabilities = ["list"] }', True),
        ('path "trustee/trustees" { capabilities = ["list"] }', True),
        ('path "trustee/trustees" { capabilities = ["read"] }', False),
        ('path "trustee/*" { capabilities = ["read"] }', False),
        (
            'path "trustee/trustees" { capabilities = ["list"] }\n'
            'path "trustee/trustees/*" { capabilities = ["deny"] }',
            False,
        ),
        (
            'path "trustee/trustees" { capabilities = ["list"] }\n'
            'path "trustee/*" { capabilities = ["read"] }',
            False,
        ),
    ],
)
def test_list_is_checked_on_the_folder_with_a_trailing_slash(rules, allowed):
    assert allows([parse_policy(rules)], "trustee/trustees", "list") is allowed


def test_deny_wins_within_a_rule():
    policy = parse_policy('path "x" { capabilities = ["read", "deny"] }')
    assert not allows([policy], "x", "read")


def test_union_over_policies():
    read = parse_policy('path "x" { capabilities = ["read"] }')
    write = parse_policy('path "x" { capabilities = ["update"] }')
    assert granted([read, write], "x") == {"read", "update"}


def test_default_policy_is_token_self_service():
    assert allows([DEFAULT_POLICY], "auth/token/lookup-self", "read")
    assert allows([DEFAULT_POLICY], "auth/token/renew-self", "update")
    assert allows([DEFAULT_POLICY], "auth/token/revoke-self", "update")
    assert not allows([DEFAULT_POLICY], "auth/token/create", "update")
    assert not allows([DEFAULT_POLICY], "trustee/trustees", "list")


def test_nothing_is_granted_by_default():
    assert granted([], "anything") == frozenset()
    assert not allows([parse_policy('path "x" { capabilities = ["deny"] }')], "x", "deny")


segment = st.text(alphabet="abcdefghij-_.0123", min_size=1, max_size=6)
paths = st.lists(segment, min_size=1, max_size=5).map("/".join)


@given(paths)
def test_an_exact_rule_matches_only_itself(path):
    rule = Rule(path, frozenset({"read"}))
    assert rule.matches(path)
    assert not rule.matches(path + "x")
    assert not rule.matches(path + "/x")


@given(paths, paths)
def test_a_prefix_rule_matches_every_extension(prefix, rest):
    rule = Rule(prefix + "*", frozenset({"read"}))
    assert rule.matches(prefix)
    assert rule.matches(prefix + rest)
    assert rule.matches(prefix + "/" + rest)


@given(st.lists(segment, min_size=2, max_size=5), st.data())
def test_plus_matches_exactly_one_segment(segments, data):
    index = data.draw(st.integers(0, len(segments) - 1))
    pattern = "/".join("+" if i == index else s for i, s in enumerate(segments))
    rule = Rule(pattern, frozenset({"read"}))
    assert rule.matches("/".join(segments))
    doubled = [*segments[:index], segments[index], segments[index], *segments[index + 1 :]]
    assert not rule.matches("/".join(doubled))


@given(paths, st.sampled_from(["read", "update", "list", "create", "delete", "sudo"]))
def test_a_deny_anywhere_denies(path, capability):
    grant = parse_policy(json.dumps({"path": {path: {"capabilities": [capability]}}}))
    deny = parse_policy(json.dumps({"path": {path: {"capabilities": ["deny"]}}}))
    assert allows([grant], path, capability)
    assert not allows([grant, deny], path, capability)
