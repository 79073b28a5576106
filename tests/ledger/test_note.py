"""C2SP signed notes and checkpoints: Go's published vectors, independent checks, refusals.

Vectors: golang.org/x/mod/sumdb/note (note.go's package documentation and note_test.go): the
PeterNeumann and EnochRoot keys, the signed note and its malformed-message table. Signatures
made here are re-checked with plain pyca/cryptography, the key id and signed message being
recomputed in this file from the spec's definitions.
"""

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from trustee.ledger.note import (
    MAX_NOTE_SIZE,
    Checkpoint,
    NoteError,
    VerifierKey,
    format_checkpoint,
    key_id,
    make_signer_key,
    make_verifier_key,
    open_checkpoint,
    open_note,
    parse_checkpoint,
    parse_signer_key,
    parse_verifier_key,
    sign_note,
)

# --- golang.org/x/mod/sumdb/note ------------------------------------------------------------
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
)
PETER_NOTE = TEXT + "\n" + PETER_SIG


def independent_key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + b"\x01" + public).digest()[:4]


def test_go_vector_sign_reproduces_published_note():
    name, kid, private = parse_signer_key(PETER_SKEY)
    assert (name, kid.hex()) == ("PeterNeumann", "c74f20a3")
    assert sign_note(TEXT, name, private) == PETER_NOTE
    assert make_verifier_key(name, private.public_key()) == PETER_VKEY
    assert make_signer_key(name, private) == PETER_SKEY


def test_go_vector_open():
    assert open_note(PETER_NOTE, [PETER_VKEY]) == TEXT
    assert open_note(PETER_NOTE.encode(), [parse_verifier_key(PETER_VKEY)]) == TEXT
    # one verified, one unknown: fine; both known: fine; none known: refused
    both = TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert open_note(both, [PETER_VKEY]) == TEXT
    assert open_note(both, [PETER_VKEY, ENOCH_VKEY]) == TEXT
    assert open_note(both, [ENOCH_VKEY]) == TEXT
    with pytest.raises(NoteError, match="no verifiable signatures"):
        open_note(both, [])
    # repeated signatures are fine; 101 are too many
    assert open_note(TEXT + "\n" + PETER_SIG * 3 + ENOCH_SIG * 2, [PETER_VKEY]) == TEXT
    with pytest.raises(NoteError, match="more than 100"):
        open_note(TEXT + "\n" + PETER_SIG * 101, [PETER_VKEY])


def test_go_vector_invalid_signature_from_known_key():
    mangled = TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(NoteError, match="invalid signature for key PeterNeumann\\+c74f20a3"):
        open_note(mangled, [PETER_VKEY])
    # an unknown key's garbage is ignored
    enoch_abcd = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    assert open_note(TEXT + "\n" + PETER_SIG + enoch_abcd, [PETER_VKEY]) == TEXT


@pytest.mark.parametrize(
    "message",
    [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        b"\xff" + (TEXT + "\n" + PETER_SIG).encode(),
        TEXT
        + "\n"
        + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",  # noqa: E501
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
    ],
)
def test_go_malformed_messages(message):
    with pytest.raises(NoteError, match="malformed"):
        open_note(message, [PETER_VKEY])


def test_go_verifier_key_manglings_are_all_refused():
    parse_verifier_key(PETER_VKEY)
    raw = PETER_VKEY.encode()
    for i in range(len(raw) + 1):
        for j in range(i + 1, len(raw) + 1):
            if (i, j) != (0, len(raw)):
                with pytest.raises(NoteError):
                    parse_verifier_key(raw[i:j].decode())
    for i in range(len(raw)):
        bumped = raw[:i] + bytes([raw[i] + 1]) + raw[i + 1 :]
        with pytest.raises(NoteError):
            parse_verifier_key(bumped.decode())
    # wrong key length and unknown algorithm, each with a matching key id (from note_test.go)
    with pytest.raises(NoteError):
        parse_verifier_key(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        )
    with pytest.raises(NoteError):
        parse_verifier_key("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")


def test_go_signer_key_manglings_are_all_refused():
    raw = PETER_SKEY.encode()
    for i in range(len(raw) + 1):
        for j in range(i + 1, len(raw) + 1):
            if (i, j) != (0, len(raw)):
                with pytest.raises(NoteError):
                    parse_signer_key(raw[i:j].decode())
    for i in range(len(raw)):
        bumped = raw[:i] + bytes([raw[i] + 1]) + raw[i + 1 :]
        with pytest.raises(NoteError):
            parse_signer_key(bumped.decode())


# --- our own keys, checked independently ----------------------------------------------------


@pytest.fixture
def log_key():
    return Ed25519PrivateKey.generate()


def test_round_trip_checked_with_plain_cryptography(log_key):
    name = "trustee.example/ledger"
    text = "multi\n\nparagraph with a blank line\nand ünïcödé ✓\n"
    note = sign_note(text, name, log_key)
    public = log_key.public_key().public_bytes_raw()
    # Independent reading of the format.
    body, _, sig_line = note.rpartition("\n\n")
    assert body + "\n" == text
    assert sig_line.startswith("— " + name + " ") and sig_line.endswith("\n")
    blob = base64.b64decode(sig_line.rstrip("\n").split(" ")[2], validate=True)
    assert blob[:4] == independent_key_id(name, public)
    Ed25519PublicKey.from_public_bytes(public).verify(blob[4:], text.encode("utf-8"))
    # And our own reading.
    vkey = make_verifier_key(name, public)
    encoded = base64.b64encode(b"\x01" + public).decode()
    assert vkey == f"{name}+{blob[:4].hex()}+{encoded}"
    assert parse_verifier_key(vkey) == VerifierKey(name, blob[:4], public)
    assert key_id(name, public) == blob[:4]
    assert open_note(note, [vkey]) == text
    assert open_note(note, vkey) == text  # a single key string is accepted too


def test_tampered_text_and_wrong_key(log_key):
    note = sign_note("origin\n5\n" + "A" * 43 + "=\n", "log", log_key)
    vkey = make_verifier_key("log", log_key.public_key())
    with pytest.raises(NoteError, match="invalid signature"):
        open_note(note.replace("5", "6", 1), [vkey])
    other = make_verifier_key("log", Ed25519PrivateKey.generate().public_key())
    with pytest.raises(NoteError, match="no verifiable"):
        open_note(note, [other])  # same name, different id: ignored, so nothing verifies
    # a colliding name and id with a different key cannot be configured
    forged = VerifierKey("log", parse_verifier_key(vkey).key_id, b"\x11" * 32)
    with pytest.raises(NoteError, match="ambiguous"):
        open_note(note, [vkey, forged])


def test_bad_signature_lines(log_key):
    note = sign_note("hello\n", "log", log_key)
    vkey = make_verifier_key("log", log_key.public_key())
    text, _, line = note.rpartition("\n\n")
    name_part, blob = line.rstrip("\n").rsplit(" ", 1)
    for bad_blob in ("!!!!", blob.rstrip("="), blob + "==", "AAAA", blob.replace("+", "-")):
        if bad_blob == blob:
            continue
        with pytest.raises(NoteError):
            open_note(f"{text}\n\n{name_part} {bad_blob}\n", [vkey])
    with pytest.raises(NoteError, match="malformed"):
        open_note(f"{text}\n\n- log {blob}\n", [vkey])  # hyphen instead of em dash


def test_size_limits(log_key):
    vkey = make_verifier_key("log", log_key.public_key())
    big = "x" * (MAX_NOTE_SIZE - 10) + "\n"
    with pytest.raises(NoteError, match="larger"):
        sign_note("y" * MAX_NOTE_SIZE + "\n", "log", log_key)
    note = sign_note(big, "log", log_key)
    with pytest.raises(NoteError, match="larger"):
        open_note(note, [vkey])
    with pytest.raises(NoteError, match="larger"):
        open_note(note.encode(), [vkey])


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("no newline", "log"),
        ("", "log"),
        ("tab\there\n", "log"),
        ("lone \ud800 surrogate\n", "log"),
        ("fine\n", ""),
        ("fine\n", "has space"),
        ("fine\n", "has+plus"),
        ("fine\n", "nbsp\u00a0name"),
    ],
)
def test_sign_refuses_bad_text_or_name(log_key, text, name):
    with pytest.raises(NoteError):
        sign_note(text, name, log_key)


def test_small_order_verifier_key_is_refused():
    identity = b"\x01" + b"\x00" * 31
    kid = independent_key_id("log", identity).hex()
    encoded = base64.b64encode(b"\x01" + identity).decode()
    vkey = f"log+{kid}+{encoded}"
    with pytest.raises(NoteError, match="small-order"):
        parse_verifier_key(vkey)


# --- checkpoints -----------------------------------------------------------------------------

ROOT = hashlib.sha256(b"root").digest()


def test_checkpoint_round_trip_and_spec_example_shape(log_key):
    body = format_checkpoint("example.com/behind-the-sofa", 20852163, ROOT)
    assert body == f"example.com/behind-the-sofa\n20852163\n{base64.b64encode(ROOT).decode()}\n"
    assert parse_checkpoint(body) == Checkpoint("example.com/behind-the-sofa", 20852163, ROOT)
    with_ext = format_checkpoint("o", 0, ROOT, ["ext one", "ext-two"])
    assert parse_checkpoint(with_ext).extensions == ("ext one", "ext-two")
    signed = sign_note(body, "example.com/behind-the-sofa", log_key)
    vkey = make_verifier_key("example.com/behind-the-sofa", log_key.public_key())
    cp = open_checkpoint(signed, [vkey], origin="example.com/behind-the-sofa")
    assert (cp.size, cp.root_hash) == (20852163, ROOT)
    with pytest.raises(NoteError, match=r"expected 'other\.example'"):
        open_checkpoint(signed, [vkey], origin="other.example")


def test_tlog_checkpoint_spec_example_parses():
    # c2sp.org/tlog-checkpoint's example body (its signature is by a key it does not publish).
    body = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    cp = parse_checkpoint(body)
    assert cp.origin == "example.com/behind-the-sofa"
    assert cp.size == 20852163
    assert cp.root_hash == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")


@pytest.mark.parametrize(
    "body",
    [
        "o\n1\n{root}",  # no final newline
        "o\n1\n",  # no root
        "\n1\n{root}\n",  # empty origin
        "o\n01\n{root}\n",  # leading zero
        "o\n-1\n{root}\n",
        "o\n+1\n{root}\n",
        "o\n1.0\n{root}\n",
        "o\n \n{root}\n",
        "o\n١\n{root}\n",  # a non-ASCII digit
        "o\n18446744073709551616\n{root}\n",  # 2**64
        "o\n1\n{short}\n",  # 31-byte root
        "o\n1\n{unpadded}\n",
        "o\n1\n{urlsafe}\n",
        "o\n1\n{root}\n\n",  # empty extension line
        "o\n1\n{root}\next\x00\n",
    ],
)
def test_checkpoint_strictness(body):
    root = base64.b64encode(b"\xfb" * 32).decode()
    text = body.format(
        root=root,
        short=base64.b64encode(b"\x00" * 31).decode(),
        unpadded=root.rstrip("="),
        urlsafe=base64.urlsafe_b64encode(b"\xfb" * 32).decode(),
    )
    with pytest.raises(NoteError):
        parse_checkpoint(text)


def test_checkpoint_size_bounds():
    assert parse_checkpoint(format_checkpoint("o", 0, ROOT)).size == 0
    assert parse_checkpoint(format_checkpoint("o", 2**64 - 1, ROOT)).size == 2**64 - 1
    for bad in (-1, 2**64, True, "5"):
        with pytest.raises(NoteError):
            format_checkpoint("o", bad, ROOT)
    for origin in ("", "two\nlines"):
        with pytest.raises(NoteError):
            format_checkpoint(origin, 1, ROOT)
    with pytest.raises(NoteError):
        format_checkpoint("o", 1, ROOT[:31])
    with pytest.raises(NoteError):
        format_checkpoint("o", 1, ROOT, ["bad\nextension"])
