"""What every object owning a C handle shares: ``close()`` as a context
manager and as the finaliser (a finaliser never raises)."""

from __future__ import annotations

from typing import Self


class Closable:
    """``with obj: ...`` closes it at the end; so does the garbage
    collector, ignoring errors.  Subclasses define ``close()``."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass
