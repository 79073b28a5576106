"""The fuzz targets' checks as hypothesis properties: random bytes, mutated seeds, and the
inputs that once broke a parser. Same bodies as the atheris harness (fuzz/fuzzbodies.py), so
CI runs every oracle and the per-input CPU bound on every commit.
"""

import json

import fuzzbodies
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from trustee.tokens import verify_token
from trustee.tokens.verify import VerificationResult

# Wall-clock deadlines would fail on a busy machine; the CPU bound lives in run_bounded.
FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


def _apply(seed: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    data = bytearray(seed)
    for kind, position, chunk in edits:
        at = position % (len(data) + 1)
        if kind == 0 and data:
            data[at % len(data)] ^= 1 << (position % 8)
        elif kind == 1:
            data[at:at] = chunk
        elif kind == 2:
            del data[at : at + 1 + position % 16]
        else:
            data[at : at + len(chunk)] = chunk
    return bytes(data)


def mutated(name: str) -> st.SearchStrategy[bytes]:
    """A seed of the target with a few byte-level edits, as libFuzzer's mutators make them."""
    edit = st.tuples(st.integers(0, 3), st.integers(0, 1 << 16), st.binary(min_size=1, max_size=8))
    return st.builds(_apply, st.sampled_from(fuzzbodies.SEEDS[name]), st.lists(edit, max_size=4))


def deep(prefix: bytes, opener: bytes = b"[") -> bytes:
    return prefix + opener * 5000


@pytest.mark.parametrize("name", sorted(fuzzbodies.TARGETS))
def test_seeds_pass_their_own_checks(name):
    """Seeds are valid inputs: if one failed, every mutant would be noise."""
    for seed in fuzzbodies.SEEDS[name]:
        fuzzbodies.run_bounded(fuzzbodies.TARGETS[name], seed)


def test_seed_tokens_verify():
    for token in fuzzbodies.TOKEN_SEEDS:
        result = verify_token(token, at=fuzzbodies.SEED_NOW + 10, audience=fuzzbodies.AUDIENCE)
        assert result.valid or result.reason == "audience_mismatch", result


@FUZZ
@given(st.one_of(st.binary(max_size=512), mutated("token")))
# A header nested deeper than the json module's recursion limit once escaped as RecursionError.
@example(bytes([2, 0, 0]) + deep(b'{"a":'))
@example(bytes([0]) + b"A" * 17_000)
def test_token_verifier(data):
    fuzzbodies.run_bounded(fuzzbodies.check_token, data)


@FUZZ
@given(st.one_of(st.binary(max_size=512), mutated("keystore")))
@example(bytes([0]) + deep(b'{"version": 3, "crypto":'))
@example(bytes([0]) + b'{"version": 3, "crypto": {"kdf": "scrypt"}}')
def test_keystore_decoder(data):
    fuzzbodies.run_bounded(fuzzbodies.check_keystore, data)


@FUZZ
@given(st.one_of(st.binary(max_size=128), mutated("address")))
@example(b"\x00" + b"0x" + b"\xd9\xa0" * 20)
def test_address_parsers(data):
    fuzzbodies.run_bounded(fuzzbodies.check_address, data)


@FUZZ
@given(st.one_of(st.binary(max_size=512), mutated("device_key")))
# A JWK-looking key nested past the recursion limit once escaped as RecursionError.
@example(bytes([1]) + deep(b'{"a":'))
@example(bytes([0]) + b"-----BEGIN PUBLIC KEY-----\n\xff\n-----END PUBLIC KEY-----")
def test_device_key_parser(data):
    fuzzbodies.run_bounded(fuzzbodies.check_device_key, data)


@FUZZ
@given(st.one_of(st.binary(max_size=512), mutated("note")))
@example(b"\x00" + b"text\n\n" + "— a AAAA\n".encode() * 200)
def test_note_parser(data):
    fuzzbodies.run_bounded(fuzzbodies.check_note, data)


def test_the_oracle_catches_a_forged_token():
    """A token whose payload was swapped after signing must be refused; if the verifier ever
    accepted it, the oracle must say so (checked here by feeding the oracle directly)."""
    header, _, signature = fuzzbodies.TOKEN_SEEDS[0].split(".")
    other_payload = fuzzbodies.TOKEN_SEEDS[5].split(".")[1]
    forged = f"{header}.{other_payload}.{signature}"
    assert not verify_token(forged, at=fuzzbodies.SEED_NOW + 10).valid
    claims = json.loads(fuzzbodies._b64url_decode(other_payload))
    lie = VerificationResult(True, fuzzbodies.ADDRESSES[0], "ES256K", claims, None)
    with pytest.raises(fuzzbodies.Misbehaviour, match="not signed by its iss"):
        fuzzbodies._check_accepted_token(forged, lie, None, None, fuzzbodies.SEED_NOW + 10)


def test_run_bounded_reports_a_hang():
    def spin(_: bytes) -> None:
        import time

        started = time.process_time()
        while time.process_time() - started < fuzzbodies.BUDGET_SECONDS * 1.5:
            pass

    with pytest.raises(fuzzbodies.Hang):
        fuzzbodies.run_bounded(spin, b"")


@FUZZ
@given(st.one_of(st.binary(max_size=512), mutated("statement")))
def test_statement_parser_contract(data):
    fuzzbodies.run_bounded(fuzzbodies.check_statement, data)
