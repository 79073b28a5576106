"""``auth/trustee/siwe/*``: Sign-In with Ethereum (EIP-4361) on the roles of JWT login.

A wallet asks for a nonce for a role (:meth:`SiweLogin.issue_nonce`), signs the EIP-4361
message that carries it with ``personal_sign`` (EIP-191), and exchanges message and signature
for a server token (:meth:`SiweLogin.login`). The checks, in order, each with its reason code
(400 unless marked 403; the first five as in JWT login):

1. the role exists (``unknown_role``), its policies are valid and not root (``invalid_policy``,
   ``root_policy``: 403), and it admits wallets: it has ``bound_domains``
   (``siwe_not_enabled``, 403) and no ``bound_claims``, which a message cannot carry
   (``claim_mismatch``);
2. the message parses, strictly (``invalid_message``);
3. the signature is 65 bytes ``r‖s‖v`` with v 0, 1, 27 or 28 (``invalid_signature``; any other
   length is a contract wallet's, ERC-1271, which is not supported: ``unsupported_signature``)
   and recovers the message's address (``signer_mismatch``);
4. the role trusts the address: its ``bound_issuers`` or trust list (``untrusted_issuer``, 403);
5. the message's ``domain`` is one of ``bound_domains`` (``domain_mismatch``), its ``uri``
   matches one of ``bound_uris`` when set (``uri_mismatch``), its chain id is one of
   ``bound_chain_ids`` when set (``chain_mismatch``), one of its resources matches one of
   ``bound_resources`` when set (``resource_mismatch``);
6. time, with the leeway of tokens: ``Issued At`` is not in the future (``issued_in_future``),
   ``Expiration Time`` has not passed (``expired``), ``Not Before`` has (``not_yet_valid``);
7. the nonce is one this cluster issued (``unknown_nonce``), for this role
   (``nonce_role_mismatch``), unexpired (``nonce_expired``) and never spent (``replayed``). It is
   spent last, by one conditional ``UPDATE``, so a refusal writes nothing and of two replicas
   given the same message only one accepts it;
8. a server token is issued as by JWT login: the role's policies and TTLs, metadata ``role``,
   ``issuer`` and ``address`` (the address), ``domain`` and ``chain_id``.
"""

import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa

from trustee.auth.login import (
    LoginDenied,
    LoginError,
    LoginResult,
    role_of,
    role_policies,
    trusted_by,
)
from trustee.auth.roles import Role, RoleService, claim_matches
from trustee.auth.siwe_message import SiweMessage, SiweMessageError, parse_message
from trustee.auth.token_store import TokenStore
from trustee.auth.trust_lists import TrustListService
from trustee.crypto.address import address_from_public_key
from trustee.crypto.errors import CryptoError
from trustee.crypto.messages import eip191_hash
from trustee.crypto.secp256k1 import recover_public_key
from trustee.storage import Database
from trustee.storage.schema_auth import siwe_nonces as _N
from trustee.tokens import DEFAULT_LEEWAY_SECONDS

NONCE_TTL_SECONDS = 300
"""How long a nonce may wait for its login: a wallet prompt, read and approved."""
PURGE_INTERVAL_SECONDS = 60.0
MAX_SIGNATURE_HEX = 2 * 4096


@dataclass(frozen=True)
class IssuedNonce:
    nonce: str
    role: str
    expire_time: float


class SiweLogin:
    def __init__(
        self,
        db: Database,
        tokens: TokenStore,
        roles: RoleService,
        trust_lists: TrustListService,
        *,
        leeway: float = DEFAULT_LEEWAY_SECONDS,
        nonce_ttl: float = NONCE_TTL_SECONDS,
    ) -> None:
        self._db = db
        self._tokens = tokens
        self._roles = roles
        self._trust_lists = trust_lists
        self.leeway = leeway
        self.nonce_ttl = nonce_ttl
        self.purge_interval = PURGE_INTERVAL_SECONDS
        self._next_purge = 0.0

    def __repr__(self) -> str:
        return f"<SiweLogin {self._db!r}>"

    def issue_nonce(self, role_name: str, *, now: float | None = None) -> IssuedNonce:
        """A fresh single-use nonce for a role that admits wallets."""
        current = time.time() if now is None else now
        role = self._wallet_role(role_name)
        nonce = secrets.token_hex(16)  # 128 bits, 32 alphanumerics as EIP-4361 wants
        expire_time = current + self.nonce_ttl
        with self._db.begin() as conn:
            conn.execute(
                sa.insert(_N).values(
                    nonce=nonce, role=role.name, used=False, expire_time=expire_time
                )
            )
        if current >= self._next_purge:
            self._next_purge = current + self.purge_interval
            self.purge_nonces(current)
        return IssuedNonce(nonce, role.name, expire_time)

    def purge_nonces(self, now: float | None = None) -> int:
        """Forget every expired nonce (spent or not); returns how many."""
        current = time.time() if now is None else now
        with self._db.begin() as conn:
            return conn.execute(sa.delete(_N).where(_N.c.expire_time <= current)).rowcount

    def login(
        self, role_name: str, message_text: str, signature: str, *, now: float | None = None
    ) -> LoginResult:
        current = time.time() if now is None else now
        # 1. role
        role = self._wallet_role(role_name)
        policies = role_policies(role)
        # 2. message
        try:
            message = parse_message(message_text)
        except SiweMessageError as exc:
            raise LoginError("invalid_message", exc.detail) from None
        # 3. signature
        address = self._signer(message_text, signature)
        if address != message.address:
            raise LoginError(
                "signer_mismatch",
                f"the signature is {address}'s, the message names {message.address} "
                "(contract wallets, ERC-1271, are not supported)",
            )
        # 4. trust
        if address not in trusted_by(role, self._trust_lists):
            raise LoginDenied("untrusted_issuer", f"{address} is not trusted by role {role.name!r}")
        # 5. bindings
        self._check_bindings(role, message)
        # 6. time
        self._check_time(message, current)
        # 7. nonce, spent last: every refusal before it writes nothing
        self._spend_nonce(message.nonce, role.name, current)
        # 8. the server token
        metadata = {
            "role": role.name,
            "issuer": address,
            "address": address,
            "domain": message.domain,
            "chain_id": str(message.chain_id),
        }
        issued = self._tokens.create(
            policies,
            ttl=role.token_ttl or None,
            explicit_max_ttl=role.token_max_ttl or None,
            metadata=metadata,
            display_name=f"siwe-{address}",
            now=current,
        )
        return LoginResult(issued, role, address)

    def _wallet_role(self, role_name: str) -> Role:
        role = role_of(self._roles, role_name)
        if not role.bound_domains:
            raise LoginDenied(
                "siwe_not_enabled",
                f"role {role.name!r} has no bound_domains, so it takes no wallet logins",
            )
        if role.bound_claims:
            raise LoginError(
                "claim_mismatch",
                f"role {role.name!r} binds claims, which a Sign-In with Ethereum message "
                "does not carry",
            )
        return role

    @staticmethod
    def _signer(message_text: str, signature: str) -> str:
        if not isinstance(signature, str) or len(signature) > MAX_SIGNATURE_HEX:
            raise LoginError("invalid_signature", "the signature must be 0x-prefixed hex")
        text = signature[2:] if signature[:2] in ("0x", "0X") else signature
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise LoginError("invalid_signature", "the signature must be 0x-prefixed hex") from None
        if len(raw) != 65:
            raise LoginError(
                "unsupported_signature",
                f"a signature of {len(raw)} bytes: only the 65-byte personal_sign signatures "
                "of an externally owned account log in (contract wallets, ERC-1271, are not "
                "supported)",
            )
        if raw[64] not in (0, 1, 27, 28):
            raise LoginError("invalid_signature", "the recovery byte v must be 0, 1, 27 or 28")
        try:
            public_key = recover_public_key(eip191_hash(message_text.encode("utf-8")), raw)
        except CryptoError:
            raise LoginError("invalid_signature", "the signature recovers no key") from None
        return address_from_public_key(public_key)

    @staticmethod
    def _check_bindings(role: Role, message: SiweMessage) -> None:
        if message.domain.lower() not in role.bound_domains:
            raise LoginError(
                "domain_mismatch",
                f"domain {message.domain!r} is not one of the role's {role.bound_domains}",
            )
        if role.bound_uris and not claim_matches(message.uri, role.bound_uris):
            raise LoginError(
                "uri_mismatch", f"URI {message.uri!r} is not one of the role's {role.bound_uris}"
            )
        if role.bound_chain_ids and message.chain_id not in role.bound_chain_ids:
            raise LoginError(
                "chain_mismatch",
                f"chain {message.chain_id} is not one of the role's {role.bound_chain_ids}",
            )
        if role.bound_resources and not claim_matches(
            list(message.resources or ()), role.bound_resources
        ):
            raise LoginError(
                "resource_mismatch",
                f"no resource of the message matches the role's {role.bound_resources}",
            )

    def _check_time(self, message: SiweMessage, now: float) -> None:
        if message.issued_at_time > now + self.leeway:
            raise LoginError("issued_in_future", f"issued at {message.issued_at}")
        expires = message.expiration_timestamp
        if expires is not None and now >= expires + self.leeway:
            raise LoginError("expired", f"expired at {message.expiration_time}")
        not_before = message.not_before_timestamp
        if not_before is not None and now < not_before - self.leeway:
            raise LoginError("not_yet_valid", f"not before {message.not_before}")

    def _spend_nonce(self, nonce: str, role_name: str, now: float) -> None:
        with self._db.connect() as conn:
            row = conn.execute(sa.select(_N).where(_N.c.nonce == nonce)).first()
        if row is None:
            raise LoginError("unknown_nonce", "ask auth/trustee/siwe/nonce for a nonce")
        if row.role != role_name:
            raise LoginError("nonce_role_mismatch", "the nonce was issued for another role")
        if row.used:
            raise LoginError("replayed", "this nonce was already spent")
        if row.expire_time <= now:
            raise LoginError("nonce_expired", "ask auth/trustee/siwe/nonce for a new nonce")
        with self._db.begin() as conn:
            spent = conn.execute(
                sa.update(_N)
                .where(
                    _N.c.nonce == nonce,
                    _N.c.role == role_name,
                    _N.c.used.is_(False),
                    _N.c.expire_time > now,
                )
                .values(used=True)
            ).rowcount
        if spent != 1:
            raise LoginError("replayed", "this nonce was already spent")
