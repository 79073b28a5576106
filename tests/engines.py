"""A ready core over any storage URL: what ``Core.dev`` does for SQLite, for both engines."""

from dataclasses import dataclass, field

from trustee.core import Core
from trustee.secret import Secret

DEV_ROOT_TOKEN = "root"


@dataclass
class DevCore:
    """An initialised, unsealed core, its root token and its one unseal share."""

    core: Core
    root: str = field(repr=False)
    share: str = field(repr=False)


def open_dev_core(storage_url: str, *, root_token: str = DEV_ROOT_TOKEN) -> DevCore:
    """Open ``storage_url`` (migrating it), initialise with one share, unseal, make a root token.

    One share of one is the unseal key itself, so tests can also reopen and unseal with it.
    """
    core = Core.open(storage_url)
    try:
        share = core.barrier.initialize(1, 1)[0]
        core.barrier.unseal(Secret(share))
        root = core.tokens.create_root_token(client_token=root_token).client_token
    except BaseException:
        core.close()
        raise
    return DevCore(core, root, share)
