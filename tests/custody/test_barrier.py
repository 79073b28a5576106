"""The barrier: Shamir unseal, envelope encryption, and what survives a restart."""

import itertools

import pytest
import sqlalchemy as sa

from trustee.crypto.errors import CryptoError
from trustee.custody import Barrier, SealStatus
from trustee.errors import InvalidRequest, NotInitialized, Sealed
from trustee.secret import Secret
from trustee.storage import open_database, schema

AAD = b"test:aad"


@pytest.fixture
def db(storage_url):
    database = open_database(storage_url)
    yield database
    database.close()


def test_uninitialized_barrier_reports_and_refuses(db):
    barrier = Barrier(db)
    assert not barrier.initialized
    assert barrier.status() == SealStatus(initialized=False, sealed=True, t=0, n=0, progress=0)
    with pytest.raises(NotInitialized):
        barrier.unseal("00" * 33)
    with pytest.raises(Sealed, match="trustee is sealed"):
        barrier.encrypt(b"x", AAD)


def test_init_leaves_it_sealed_and_any_threshold_subset_unseals(db):
    barrier = Barrier(db)
    shares = barrier.initialize(5, 3)
    assert len(shares) == 5 and len(set(shares)) == 5
    assert all(len(bytes.fromhex(share)) == 33 for share in shares)
    assert barrier.status() == SealStatus(initialized=True, sealed=True, t=3, n=5, progress=0)
    with pytest.raises(Sealed):
        barrier.encrypt(b"x", AAD)

    blob = None
    for subset in itertools.combinations(shares, 3):
        barrier.seal()
        assert barrier.unseal(subset[0]).progress == 1
        assert barrier.unseal(subset[1]).progress == 2
        status = barrier.unseal(subset[2])
        assert status == SealStatus(initialized=True, sealed=False, t=3, n=5, progress=0)
        if blob is None:
            blob = barrier.encrypt(b"payload", AAD)
        assert barrier.decrypt(blob, AAD) == b"payload"


def test_encrypt_binds_associated_data(db):
    barrier = Barrier(db)
    (share,) = barrier.initialize(1, 1)
    barrier.unseal(share)
    blob = barrier.encrypt(b"payload", AAD)
    with pytest.raises(CryptoError):
        barrier.decrypt(blob, b"other")
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    with pytest.raises(CryptoError):
        barrier.decrypt(bytes(tampered), AAD)


def test_single_share_is_the_unseal_key(db):
    barrier = Barrier(db)
    (share,) = barrier.initialize(1, 1)
    assert len(bytes.fromhex(share)) == 32
    assert barrier.unseal(Secret(share)).sealed is False
    barrier.seal()
    assert barrier.unseal_with_key(bytes.fromhex(share)).sealed is False


def test_duplicate_share_is_ignored(db):
    barrier = Barrier(db)
    shares = barrier.initialize(3, 2)
    assert barrier.unseal(shares[0]).progress == 1
    assert barrier.unseal(shares[0].upper()).progress == 1
    assert barrier.unseal(shares[1]).sealed is False


def test_wrong_shares_reset_progress_and_never_echo(db):
    barrier = Barrier(db)
    shares = barrier.initialize(3, 2)
    other = Barrier(open_database("sqlite:///:memory:")).initialize(3, 2)
    barrier.unseal(shares[0])
    with pytest.raises(InvalidRequest) as caught:
        barrier.unseal(other[1])
    message = str(caught.value)
    assert message == "unseal failed: the shares do not open the barrier"
    assert shares[0] not in message and other[1] not in message
    assert barrier.status().progress == 0 and barrier.sealed
    # a share with the same x as one already given cannot combine either
    forged = "ff" * 32 + shares[0][-2:]
    barrier.unseal(shares[0])
    with pytest.raises(InvalidRequest, match="unseal failed"):
        barrier.unseal(forged)
    assert barrier.status().progress == 0
    assert barrier.unseal(shares[2]).progress == 1
    assert barrier.unseal(shares[1]).sealed is False


@pytest.mark.parametrize("garbage", ["", "zz" * 33, "00" * 32, "00" * 34, "abc", 12, None])
def test_garbage_shares_are_refused_without_progress(db, garbage):
    barrier = Barrier(db)
    barrier.initialize(3, 2)
    with pytest.raises(InvalidRequest) as caught:
        barrier.unseal(garbage)
    if isinstance(garbage, str) and garbage:
        assert garbage not in str(caught.value)
    assert barrier.status().progress == 0


def test_reset_unseal_progress(db):
    barrier = Barrier(db)
    shares = barrier.initialize(3, 2)
    barrier.unseal(shares[0])
    barrier.reset_unseal_progress()
    assert barrier.status().progress == 0
    assert barrier.unseal(shares[1]).progress == 1


def test_unseal_with_wrong_key_fails(db):
    barrier = Barrier(db)
    barrier.initialize(1, 1)
    with pytest.raises(InvalidRequest, match="unseal failed"):
        barrier.unseal_with_key(b"\x00" * 32)
    with pytest.raises(InvalidRequest, match="32 bytes"):
        barrier.unseal_with_key(b"short")
    assert barrier.sealed


def test_seal_overwrites_the_key_in_memory(db):
    barrier = Barrier(db)
    (share,) = barrier.initialize(1, 1)
    barrier.unseal(share)
    key = barrier._key
    assert key is not None and any(key)
    barrier.seal()
    assert barrier.sealed and bytes(key) == bytes(32)
    with pytest.raises(Sealed):
        barrier.decrypt(b"\x01" * 40, AAD)


def test_second_init_is_refused(db):
    barrier = Barrier(db)
    barrier.initialize(1, 1)
    with pytest.raises(InvalidRequest, match="already initialized"):
        barrier.initialize(1, 1)
    with pytest.raises(InvalidRequest, match="already initialized"):
        Barrier(db).initialize(3, 2)


@pytest.mark.parametrize(
    ("shares", "threshold"),
    [(0, 0), (1, 0), (2, 1), (3, 4), (11, 3), (-1, 1), (True, True), ("5", 3), (5, 3.0)],
)
def test_share_configuration_is_validated(db, shares, threshold):
    with pytest.raises(InvalidRequest):
        Barrier(db).initialize(shares, threshold)
    assert not Barrier(db).initialized


def test_restart_keeps_initialization_and_unseals_with_the_same_shares(storage_url):
    first_db = open_database(storage_url)
    first = Barrier(first_db)
    shares = first.initialize(5, 3)
    first.unseal(shares[0])
    first.unseal(shares[1])
    first.unseal(shares[2])
    blob = first.encrypt(b"survives", AAD)
    first_db.close()

    second_db = open_database(storage_url)
    second = Barrier(second_db)
    assert second.initialized
    assert second.status() == SealStatus(initialized=True, sealed=True, t=3, n=5, progress=0)
    for share in (shares[4], shares[2], shares[3]):
        second.unseal(share)
    assert not second.sealed
    assert second.decrypt(blob, AAD) == b"survives"
    second_db.close()


def test_nothing_secret_is_stored_in_clear_or_shown(db):
    barrier = Barrier(db)
    shares = barrier.initialize(3, 2)
    barrier.unseal(shares[0])
    barrier.unseal(shares[1])
    key_hex = bytes(barrier._key).hex()
    with db.connect() as conn:
        row = conn.execute(sa.select(schema.barrier)).one()
    stored = bytes(row.sealed_barrier_key)
    assert bytes(barrier._key) not in stored
    text = repr(barrier) + repr(barrier.status())
    for secret in (key_hex, *shares):
        assert secret not in text


def test_barrier_is_safe_across_threads(db):
    import threading

    barrier = Barrier(db)
    (share,) = barrier.initialize(1, 1)
    barrier.unseal(share)
    failures = []

    def work():
        try:
            for index in range(200):
                data = str(index).encode()
                assert barrier.decrypt(barrier.encrypt(data, AAD), AAD) == data
        except Exception as exc:  # collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
