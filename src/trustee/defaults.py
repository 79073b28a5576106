"""Defaults a command needs before it loads anything heavy (its help text shows them)."""

DEFAULT_STORAGE_URL = "sqlite:///./trustee-data/trustee.db"
