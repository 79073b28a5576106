"""The services of one trustee deployment, composed over one database.

The server, the demo and tests build a :class:`Core`; faces call its services and never touch
storage themselves.
"""

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from trustee.auth.acl import AclAuthorizer, PolicyStore
from trustee.auth.applications import ApplicationStore
from trustee.auth.audiences import AudienceService
from trustee.auth.login import TrusteeLogin
from trustee.auth.roles import RoleService
from trustee.auth.siwe_login import SiweLogin
from trustee.auth.token_store import TokenStore
from trustee.auth.trust_lists import TrustListService
from trustee.custody.barrier import Barrier
from trustee.custody.trustees import TrusteeService
from trustee.defaults import DEFAULT_STORAGE_URL
from trustee.errors import AlreadyExists
from trustee.ledger.service import LedgerService
from trustee.scitt.listing import StatementListing
from trustee.scitt.registry import ScittRegistry
from trustee.secret import Secret
from trustee.storage import Database, open_database
from trustee.storage.probe import StorageProbe


@dataclass(frozen=True)
class InitResult:
    """What ``sys/init`` answers once: the unseal shares and the first root token."""

    keys: list[str] = field(repr=False)
    root_token: str = field(repr=False)


class Core:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.barrier = Barrier(db)
        self.tokens = TokenStore(db)
        self.applications = ApplicationStore(db, self.tokens)
        self.trustees = TrusteeService(db, self.barrier)
        self.policies = PolicyStore(db)
        self.authorizer = AclAuthorizer(self.policies)
        self.trust_lists = TrustListService(db)
        self.roles = RoleService(db)
        self.login = TrusteeLogin(db, self.tokens, self.roles, self.trust_lists)
        self.siwe = SiweLogin(
            db, self.tokens, self.roles, self.trust_lists, leeway=self.login.leeway
        )
        self.audiences = AudienceService(db)
        self.ledger = LedgerService(db, self.barrier)
        self.ledger.start_indexer()
        self.scitt = ScittRegistry(
            db, self.ledger.log, self.ledger.appender, self.barrier, self.trust_lists
        )
        self.scitt_statements = StatementListing(
            db, lambda: self.barrier.subkey(b"scitt-page-tokens")
        )
        self.storage = StorageProbe(db)

    @classmethod
    def open(cls, storage_url: str = DEFAULT_STORAGE_URL) -> "Core":
        return cls(open_database(storage_url))

    def initialize(self, secret_shares: int, secret_threshold: int) -> InitResult:
        """Create the barrier and the first root token; refuses a second time."""
        if self.barrier.initialized:
            raise AlreadyExists("trustee is already initialized")
        keys = self.barrier.initialize(secret_shares, secret_threshold)
        root = self.tokens.create_root_token()
        return InitResult(keys=keys, root_token=root.client_token)

    @classmethod
    def dev(cls, root_token: str | None = None, folder: Path | None = None) -> tuple["Core", str]:
        """A fresh embedded server, initialised and unsealed: for trying things, never for keeps."""
        folder = folder or Path(tempfile.mkdtemp(prefix="trustee-dev-"))
        core = cls.open(f"sqlite:///{folder / 'trustee.db'}")
        keys = core.barrier.initialize(1, 1)
        core.barrier.unseal(Secret(keys[0]))
        token = core.tokens.create_root_token(client_token=root_token).client_token
        return core, token

    def close(self) -> None:
        self.storage.close()
        self.ledger.close()
        self.barrier.seal()
        self.db.close()
