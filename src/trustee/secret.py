"""A wrapper that keeps secrets out of reprs, logs and tracebacks by accident."""


class Secret:
    """Holds a secret string or bytes; ``repr`` and ``str`` show only a mask.

    Starlette's habit: a value that cannot print itself cannot leak through a log line or an
    exception message. Call :meth:`reveal` where the secret is really needed.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str | bytes) -> None:
        self._value = value

    def reveal(self) -> str | bytes:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__
