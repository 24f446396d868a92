"""The batches a preprocessing service dealt, kept on disk so that a restarted service serves them.

The service writes a batch here before it commits it on chain: every batch
on chain can then be served by this service or by the next one started with
the same ``--state``, which completes the intake of what the earlier one
dealt and counts the attested batches in its stock. Nothing secret is in
clear: each member's part is sealed with HPKE to that member's key. One
folder per group (offchain.preprocessing.keyshare)::

    FOLDER/GROUP/BATCH.sealed   every member's part, as SealedBatch.to_bytes()

with GROUP and BATCH in hex. A file is written whole to a ``.NAME.*.tmp``
beside it, fsynced, then renamed (dealer_state.write_private): a crash
leaves the whole file or a temporary one, which the next start deletes. A batch rejected, used up, or never committed
(the service stopped in between, and its commitment is not pending either) is deleted. Only the batches in intake are
held in memory; an attested batch is read from here when a member asks for it
again (e.g. ``mpcc preprocess fetch``).
"""

from __future__ import annotations

from pathlib import Path

from mpcc.service.dealer_state import write_private
from offchain.errors import ConfigError, DecodeError
from offchain.preprocessing.delivery import HEADER_BYTES, BatchHeader, SealedBatch

SUFFIX = ".sealed"


class BatchStore:
    """The batches of one group kept in ``folder`` (see the module docstring)."""

    def __init__(self, folder: Path, group: bytes) -> None:
        self.folder = folder / group.hex()
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            for left in self.folder.glob(".*.tmp"):
                left.unlink()  # Written by a service stopped midway: never committed.
        except OSError as err:
            raise ConfigError(f"cannot use {self.folder} for the dealt batches: {err.strerror or err}; the "
                              "service needs a private, writable folder beside its --state") from err

    def put(self, sealed: SealedBatch) -> None:
        """Keeps every member's part of a batch (before the batch is committed)."""
        final = self._path(sealed.batch_id)
        try:
            write_private(final, sealed.to_bytes())
        except OSError as err:
            raise ConfigError(f"cannot write the dealt batch {final}: {err.strerror or err}; free some space "
                              "or give the service a writable --state folder") from err

    def get(self, batch_id: bytes) -> SealedBatch | None:
        """The batch kept here, if it is."""
        path = self._path(batch_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as err:
            raise ConfigError(f"cannot read the dealt batch {path}: {err.strerror or err}") from err
        try:
            return SealedBatch.from_bytes(data)
        except DecodeError as err:
            raise ConfigError(f"the dealt batch {path} is damaged ({err}); it can no longer be served") from err

    def forget(self, batch_id: bytes) -> None:
        """Deletes a batch (rejected, used up, or never committed)."""
        self._path(batch_id).unlink(missing_ok=True)

    def headers(self) -> list[BatchHeader]:
        """The header of every batch kept, oldest first; a damaged file is named and set aside."""
        found = sorted((p for p in self.folder.glob("*" + SUFFIX) if not p.name.startswith(".")),
                       key=lambda p: p.stat().st_mtime_ns)
        headers = []
        for path in found:
            with path.open("rb") as f:
                head = f.read(1 + HEADER_BYTES)
            try:
                headers.append(BatchHeader.from_bytes(head[1:]))
            except DecodeError as err:
                raise ConfigError(f"the dealt batch {path} is damaged ({err}); move it away to start the "
                                  "service (its batch can no longer be served)") from err
        return headers

    def _path(self, batch_id: bytes) -> Path:
        return self.folder / (batch_id.hex() + SUFFIX)
