"""Project Wycheproof's signature vectors through every trustee verifier that can express them.

Every vector is accounted for: each test counts its outcomes and compares the counts with the
file's totals, so a vector that is neither accepted nor refused as expected fails the test.

* ``ecdsa_secp256k1_sha256_p1363_test.json`` (r‖s): device keys ``ES256K`` as a public key
  (64 bytes, and 65 bytes with every v) and as an Ethereum address (by recovery);
* ``ecdsa_secp256r1_sha256_p1363_test.json``: device keys ``ES256``;
* ``ed25519_test.json``: device keys ``EdDSA`` (through :func:`verify_evidence` when the message
  is UTF-8, through :meth:`DeviceKey.verify` on the raw bytes otherwise);
* ``ecdsa_secp256k1_sha256_test.json`` and ``…_bitcoin_test.json`` (DER): decoded here with
  pyca/cryptography, then the secp256k1 primitives (verify, recovery) and both device forms.

Where trustee deliberately differs from a file's verdict the test says so: it accepts high-s
secp256k1 signatures (the bitcoin file refuses them), refuses Ed25519 small-order keys and
accepts Ed25519 mixed-order keys (both "acceptable" in the file). SECURITY.md, "Signature
policies", gives the reasons.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from collections import Counter

import coincurve
import pytest
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from eth_utils import keccak, to_checksum_address

from trustee.crypto.device import (
    DeviceKey,
    check_ed25519_public_key,
    parse_device_key,
    verify_evidence,
)
from trustee.crypto.errors import CryptoError
from trustee.crypto.secp256k1 import (
    VerifyingKey,
    iter_recovered_keys,
    recover_public_key,
    recovery_ids,
)
from wycheproof import MANIFEST, Vector, b64u, load, raw_file, vector, vectors

P1363_K1 = "ecdsa_secp256k1_sha256_p1363_test.json"
DER_K1 = "ecdsa_secp256k1_sha256_test.json"
BITCOIN_K1 = "ecdsa_secp256k1_sha256_bitcoin_test.json"
P1363_R1 = "ecdsa_secp256r1_sha256_p1363_test.json"
ED25519 = "ed25519_test.json"

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
P = 2**256 - 2**32 - 977

# The bitcoin file refuses these only because s > n/2; trustee accepts high s (SECURITY.md).
BITCOIN_HIGH_S = {1, 388}


# --- helpers --------------------------------------------------------------------------------


def address_of(public_key: bytes) -> str:
    """EIP-55 address of a 65-byte key, computed with eth-utils rather than trustee."""
    return to_checksum_address(keccak(public_key[1:])[-20:])


def oracle_recovery_ids(public_key: bytes, digest: bytes, rs: bytes) -> list[int]:
    """The recovery ids with which coincurve recovers ``public_key`` from ``rs``."""
    found = []
    for recovery in range(4):
        try:
            key = coincurve.PublicKey.from_signature_and_message(
                rs + bytes([recovery]), digest, hasher=None
            )
        except Exception:  # noqa: S112 - no key for this id is an answer, not an error
            continue
        if key.format(compressed=False) == public_key:
            found.append(recovery)
    return found


def device_verdict(key: DeviceKey, message: bytes, signature: bytes) -> tuple[bool, str]:
    """verify_evidence for UTF-8 messages (as the ledger checks them), else DeviceKey.verify."""
    try:
        text = message.decode("utf-8")
    except UnicodeDecodeError:
        return key.verify(message, signature), key.check(message, signature)
    return verify_evidence(key, text, b64u(signature))


def expect(v: Vector, accepted: bool, failures: list[str], what: str) -> str:
    """Record a disagreement with the file; return the outcome's name for counting."""
    want = v.result == "valid"
    if accepted != want:
        failures.append(f"{v.name} ({v.comment}; {', '.join(v.flags)}): {what} {accepted}")
    return f"{v.result} {'accepted' if accepted else 'refused'}"


def der_rs(v: Vector) -> bytes | str:
    """The 64-byte r‖s of a DER vector, or why it has none (decoded by pyca/cryptography)."""
    try:
        r, s = decode_dss_signature(v.sig)
    except ValueError:
        return "not DER"
    if not (0 <= r < 2**256 and 0 <= s < 2**256):
        return "r or s not a 32-byte integer"
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


# --- provenance -----------------------------------------------------------------------------


def test_vector_files_are_the_recorded_ones() -> None:
    assert importlib.metadata.version(MANIFEST["package"]) == MANIFEST["version"]
    readme = raw_file("README.txt").decode()
    assert MANIFEST["commit"] in readme and "unmodified" in readme
    for name, recorded in MANIFEST["files"].items():
        assert hashlib.sha256(raw_file(name)).hexdigest() == recorded, name
        data = load(name)
        assert sum(1 for _ in vectors(name)) == data["numberOfTests"], name
    assert set(MANIFEST["files"]) == {P1363_K1, DER_K1, BITCOIN_K1, P1363_R1, ED25519}


def test_a_changed_vector_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import wycheproof

    load.cache_clear()
    try:
        monkeypatch.setattr(wycheproof, "raw_file", lambda name: b'{"testGroups": []}')
        with pytest.raises(AssertionError, match="SHA-256"):
            load(ED25519)
    finally:
        load.cache_clear()


# --- secp256k1, P1363 (r‖s): device keys -------------------------------------------------


def test_es256k_public_key_64_bytes() -> None:
    failures: list[str] = []
    outcomes: Counter[str] = Counter()
    for v in vectors(P1363_K1):
        key = parse_device_key("ES256K", v.key["uncompressed"])
        ok, reason = device_verdict(key, v.msg, v.sig)
        assert (reason == "ok") == ok
        if not ok and reason not in ("signature_mismatch", "signature_wrong_length"):
            failures.append(f"{v.name}: reason {reason}")
        outcomes[expect(v, ok, failures, "accepted:")] += 1
    assert failures == []
    assert outcomes == {"valid accepted": 167, "invalid refused": 85}


def test_es256k_public_key_65_bytes_needs_the_recovery_byte_of_that_key() -> None:
    """Each valid r‖s verifies with exactly its v (id or 27 + id) and is refused as
    recovery_id_mismatch with any other byte; an invalid r‖s is refused whatever its v."""
    failures: list[str] = []
    outcomes: Counter[str] = Counter()
    for v in vectors(P1363_K1):
        if len(v.sig) != 64:
            assert v.result == "invalid"  # SignatureSize: refused for length above
            outcomes["invalid, not 64 bytes"] += 1
            continue
        key = parse_device_key("ES256K", v.key["uncompressed"])
        public_key = bytes.fromhex(key.public_key)
        digest = hashlib.sha256(v.msg).digest()
        right = oracle_recovery_ids(public_key, digest, v.sig)
        assert len(right) == (1 if v.result == "valid" else 0), v.name
        for byte in (*range(4), *range(27, 31), 4, 31, 255):
            ok, reason = device_verdict(key, v.msg, v.sig + bytes([byte]))
            if v.result == "valid":
                want = "ok" if byte in (right[0], right[0] + 27) else "recovery_id_mismatch"
            else:
                want = "signature_mismatch"
            if reason != want or ok != (want == "ok"):
                failures.append(f"{v.name} v={byte}: {reason}, expected {want}")
        outcomes[f"{v.result}, v checked"] += 1
    assert failures == []
    assert outcomes == {
        "valid, v checked": 167,
        "invalid, v checked": 67,
        "invalid, not 64 bytes": 18,
    }


def test_es256k_address_by_recovery() -> None:
    failures: list[str] = []
    outcomes: Counter[str] = Counter()
    for v in vectors(P1363_K1):
        public_key = bytes.fromhex(v.key["uncompressed"])
        key = parse_device_key("ES256K", address_of(public_key))
        assert key.is_address
        ok, _ = device_verdict(key, v.msg, v.sig)
        outcomes[expect(v, ok, failures, "64 bytes by address accepted:")] += 1
        if len(v.sig) != 64:
            continue
        digest = hashlib.sha256(v.msg).digest()
        right = oracle_recovery_ids(public_key, digest, v.sig)
        for byte in (*range(4), *range(27, 31)):
            ok, reason = device_verdict(key, v.msg, v.sig + bytes([byte]))
            want = bool(right) and byte in (right[0], right[0] + 27)
            if ok != want or (not ok and reason != "signature_mismatch"):
                failures.append(f"{v.name} v={byte} by address: {reason}")
    assert failures == []
    assert outcomes == {"valid accepted": 167, "invalid refused": 85}


@pytest.mark.parametrize(("file", "tc_id"), [(P1363_K1, 115), (P1363_K1, 247), (BITCOIN_K1, 346)])
def test_nonce_point_with_x_at_least_n_verifies_by_address(file: str, tc_id: int) -> None:
    """Recovering these keys needs recovery id 2 or 3: R's x is r + n. Refused before ids 2
    and 3 were tried (the issue's tcIds 115 and 247 of the P1363 file, 346 of the bitcoin one)."""
    v = vector(file, tc_id)
    assert v.result == "valid"
    rs = v.sig if file == P1363_K1 else der_rs(v)
    assert isinstance(rs, bytes)
    public_key = bytes.fromhex(v.key["uncompressed"])
    digest = hashlib.sha256(v.msg).digest()
    (recovery,) = oracle_recovery_ids(public_key, digest, rs)
    assert recovery in (2, 3)
    assert int.from_bytes(rs[:32], "big") < P - N
    assert recovery_ids(rs) == (0, 1, 2, 3)

    assert public_key in list(iter_recovered_keys(digest, rs))
    for byte in (recovery, recovery + 27):
        assert recover_public_key(digest, rs + bytes([byte])) == public_key
    by_address = parse_device_key("ES256K", address_of(public_key))
    by_key = parse_device_key("ES256K", public_key.hex())
    text = v.msg.decode()
    for key in (by_address, by_key):
        assert verify_evidence(key, text, b64u(rs)) == (True, "ok")
        assert verify_evidence(key, text, b64u(rs + bytes([recovery]))) == (True, "ok")
        assert verify_evidence(key, text, b64u(rs + bytes([recovery + 27]))) == (True, "ok")
    wrong = rs + bytes([recovery ^ 2])  # the same y parity, x taken as r
    assert verify_evidence(by_address, text, b64u(wrong)) == (False, "signature_mismatch")
    assert verify_evidence(by_key, text, b64u(wrong)) == (False, "recovery_id_mismatch")


def test_recovery_ids_2_and_3_are_tried_only_when_r_is_below_p_minus_n() -> None:
    boundary = (P - N).to_bytes(32, "big")
    assert recovery_ids(boundary + bytes(32)) == (0, 1)  # r + n would be p: not a coordinate
    below = (P - N - 1).to_bytes(32, "big")
    assert recovery_ids(below + bytes(32)) == (0, 1, 2, 3)
    assert recovery_ids(vector(P1363_K1, 1).sig) == (0, 1)  # an ordinary signature


# --- P-256 and Ed25519: device keys ---------------------------------------------------------


def test_es256_device_keys() -> None:
    failures: list[str] = []
    outcomes: Counter[str] = Counter()
    for v in vectors(P1363_R1):
        key = parse_device_key("ES256", v.key["uncompressed"])
        ok, _ = device_verdict(key, v.msg, v.sig)
        outcomes[expect(v, ok, failures, "accepted:")] += 1
    assert failures == []
    assert outcomes == {"valid accepted": 173, "invalid refused": 89}


def test_eddsa_device_keys() -> None:
    """Valid accepted, invalid refused; "acceptable" decided per flag:

    * ``SmallOrderPublicKey``: refused, the key itself (with it a forgery verifies for any
      message);
    * ``MixedOrderPublicKey``: accepted (OpenSSL's cofactorless check holds for these; the key
      has a prime-order part, so nobody without its secret can sign for it).
    """
    failures: list[str] = []
    outcomes: Counter[str] = Counter()
    for v in vectors(ED25519):
        try:
            key = parse_device_key("EdDSA", v.key["pk"])
        except CryptoError as exc:
            assert "small-order" in str(exc), v.name
            with pytest.raises(CryptoError, match="small-order"):
                check_ed25519_public_key(bytes.fromhex(v.key["pk"]))
            accepted, how = False, "key refused"
        else:
            accepted, _ = device_verdict(key, v.msg, v.sig)
            how = "raw bytes" if not _is_utf8(v.msg) else "evidence"
        if v.result == "acceptable":
            if "SmallOrderPublicKey" in v.flags:
                want = False
            elif "MixedOrderPublicKey" in v.flags:
                want = True
            else:  # a new kind of "acceptable" needs a decision, not a default
                failures.append(f"{v.name}: acceptable with flags {v.flags}: no stance")
                continue
            if accepted != want:
                failures.append(f"{v.name} ({', '.join(v.flags)}): accepted {accepted}")
            outcome = f"acceptable {'/'.join(v.flags)} {'accepted' if accepted else 'refused'}"
        else:
            outcome = expect(v, accepted, failures, "accepted:")
        outcomes[f"{outcome} ({how})"] += 1
    assert failures == []
    assert outcomes == {
        "valid accepted (evidence)": 51,
        "valid accepted (raw bytes)": 66,
        "invalid refused (evidence)": 62,
        "invalid refused (raw bytes)": 2,
        "acceptable SmallOrderPublicKey refused (key refused)": 8,
        "acceptable MixedOrderPublicKey accepted (evidence)": 21,
    }


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# --- secp256k1, DER: the primitives and both device forms ----------------------------------


@pytest.mark.parametrize(
    ("file", "deliberately_accepted", "counts"),
    [
        (
            DER_K1,
            set(),
            {
                "valid accepted": 168,
                "invalid refused": 74,
                "invalid, not DER": 219,
                "invalid, r or s not a 32-byte integer": 15,
            },
        ),
        (
            BITCOIN_K1,
            BITCOIN_HIGH_S,
            {
                "valid accepted": 162,
                "invalid refused": 68,
                "invalid accepted (high s, by policy)": 2,
                "invalid, not DER": 217,
                "invalid, r or s not a 32-byte integer": 15,
            },
        ),
    ],
)
def test_secp256k1_der_vectors(
    file: str, deliberately_accepted: set[int], counts: dict[str, int]
) -> None:
    """DER has no place in trustee's formats (devices and tokens send r‖s), so pyca/cryptography
    decodes each signature; what it cannot decode, or what does not fit r‖s, is an invalid
    vector no trustee verifier can be given. The rest goes through VerifyingKey, recovery
    (every id, and by v), and device keys as public key and as address."""
    failures: list[str] = []
    outcomes: Counter[str] = Counter()
    keys: dict[bytes, tuple[VerifyingKey, DeviceKey, DeviceKey]] = {}
    for v in vectors(file):
        rs = der_rs(v)
        if isinstance(rs, str):
            if v.result != "invalid":
                failures.append(f"{v.name}: {rs}, but {v.result}")
            outcomes[f"invalid, {rs}"] += 1
            continue
        public_key = bytes.fromhex(v.key["uncompressed"])
        if public_key not in keys:
            keys[public_key] = (
                VerifyingKey(public_key),
                parse_device_key("ES256K", public_key.hex()),
                parse_device_key("ES256K", address_of(public_key)),
            )
        verifying, by_key, by_address = keys[public_key]
        digest = hashlib.sha256(v.msg).digest()
        right = oracle_recovery_ids(public_key, digest, rs)
        verdicts = {
            "verify_digest": verifying.verify_digest(rs, digest),
            "iter_recovered_keys": public_key in list(iter_recovered_keys(digest, rs)),
            "device key": device_verdict(by_key, v.msg, rs)[0],
            "device address": device_verdict(by_address, v.msg, rs)[0],
        }
        if right:
            signature = rs + bytes([right[0]])
            verdicts["recover_public_key"] = recover_public_key(digest, signature) == public_key
            verdicts["device key, 65 bytes"] = device_verdict(by_key, v.msg, signature)[0]
        if len(set(verdicts.values())) != 1:
            failures.append(f"{v.name}: verifiers disagree: {verdicts}")
            continue
        accepted = verdicts["verify_digest"]
        if v.tc_id in deliberately_accepted:
            if not accepted:
                failures.append(f"{v.name}: high s is accepted by policy, but was refused")
            outcomes["invalid accepted (high s, by policy)"] += 1
            continue
        outcomes[expect(v, accepted, failures, "accepted:")] += 1
    assert failures == []
    assert outcomes == counts


def test_bitcoin_file_high_s_vectors_are_accepted_by_policy() -> None:
    """trustee accepts high-s secp256k1 signatures, which the bitcoin-flavoured file refuses
    (flag SignatureMalleabilityBitcoin, and tcId 388 "edge case for signature malleability"):
    OpenSSL (PyJWT) and Node sign without normalising s, and their ES256K signatures must
    verify. These are the only bitcoin-file vectors trustee and the file disagree on; each is
    a high-s twin of a signature the file accepts, and libsecp256k1's own verify refuses it."""
    high_s = {
        v.tc_id: v
        for v in vectors(BITCOIN_K1)
        if "SignatureMalleabilityBitcoin" in v.flags or "malleability" in v.comment
    }
    assert set(high_s) == {1, 387, 388}  # 387 is 388's low-s twin, and valid
    assert high_s[387].result == "valid"
    assert set(BITCOIN_HIGH_S) == {1, 388}
    for tc_id in BITCOIN_HIGH_S:
        v = high_s[tc_id]
        assert v.result == "invalid"
        rs = der_rs(v)
        assert isinstance(rs, bytes)
        r, s = int.from_bytes(rs[:32], "big"), int.from_bytes(rs[32:], "big")
        assert N // 2 < s < N, "refused by the file for its high s alone"
        public_key = bytes.fromhex(v.key["uncompressed"])
        digest = hashlib.sha256(v.msg).digest()
        strict = coincurve.PublicKey(public_key)
        low_s = rs[:32] + (N - s).to_bytes(32, "big")
        assert not strict.verify(encode_dss_signature(r, s), digest, hasher=None)  # low s only
        assert strict.verify(encode_dss_signature(r, N - s), digest, hasher=None)
        assert VerifyingKey(public_key).verify_digest(rs, digest)  # trustee: either s
        assert VerifyingKey(public_key).verify_digest(low_s, digest)
        key = parse_device_key("ES256K", public_key.hex())
        assert verify_evidence(key, v.msg.decode(), b64u(rs)) == (True, "ok")
        by_address = parse_device_key("ES256K", address_of(public_key))
        assert verify_evidence(by_address, v.msg.decode(), b64u(rs)) == (True, "ok")
