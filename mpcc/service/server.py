"""The preprocessing service as its own process: keeps the group stocked and serves ciphertexts.

The group is the registry's active members when the service starts, in
registry order (party i = the i-th active member). The service deals batches
(mpcc.service.dealing.PreprocessingService), seals each member's part with
HPKE to its registered key, commits every batch on chain, and keeps each
tuple key stocked: when the tuples still usable of a key (of batches attested
by every member, minus what jobs reserved) fall below the configured level,
it commits one batch of the shortfall, at most ``max_batch_count`` tuples
(offchain.preprocessing.tuples.MAX_BATCH_BYTES per member: the size every peer
accepts). Backpressure: no batch of a key is dealt while an earlier one of it
awaits attestations; a rejected one is dealt again after a doubling delay.
A batch attested by every member is dropped from memory, so the service holds
at most one bounded batch per key.

The group is followed: when the registry logs a membership event, the active
members are read again at the next poll, and if they are no longer the group
dealt for, nothing more is dealt (a new group needs a new MAC key: a restart).
Dealing runs on a daemon thread, so SIGINT and SIGTERM end the process at
once, even mid-deal or while a receipt is awaited.

The MAC key and the shares dealt to the members are kept in a state file
(mpcc.service.dealer_state: ``--state``, default ``.mpcc/dealer-state.json``,
mode 0600, sealed under a key derived from the service account's key), so a
restart for the same group of the same deployment deals under the same key
and serves the same key shares: the members notice nothing. Another group or
deployment gets a new key, logged as a warning with what the members must do;
a state file that cannot be used stops the service with the file named.
Every batch is written to a folder beside the state file (``STATE.batches``,
mpcc.service.batch_store) before it is committed, so a restarted service
serves the batches still in intake and counts the attested ones in its stock:
what the earlier instance dealt stays usable.

It serves the request protocol of offchain.preprocessing.protocol over TLS
with its own throwaway self-signed certificate (integrity comes from the
on-chain commitment, confidentiality from HPKE).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import secrets
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from eth_account.signers.local import LocalAccount
from web3 import Web3

from mpcc.loopwatch import LoopWatch
from mpcc.progress import NoProgress, Reporter
from mpcc.service.dealer_state import REFETCH, LoadedKeys
from mpcc.service.dealing import Offer, PreprocessingService
from offchain.errors import ConfigError
from offchain.net.limits import ConnectionLimits, start_server
from offchain.preprocessing.delivery import BatchHeader, SealedBatch
from offchain.preprocessing.protocol import (
    BAD_REQUEST,
    NOT_FOUND,
    OK,
    OP_BATCH,
    OP_KEY_SHARE,
    OP_LIST,
    REQUEST,
    RESPONSE_HEAD,
    WIRE_VERSION,
)
from offchain.preprocessing.tuples import Needs, TupleKey, max_batch_count
from onchain.abi.org_registry import (
    MemberAdmitted,
    MemberBootstrapped,
    MemberKeysRotated,
    MemberReinstated,
    MemberSuspended,
)
from onchain.abi.preprocessing_ledger import BatchCommitted
from onchain.deploy import Deployment
from onchain.ledger import BatchStatus
from onchain.registry import Member

log = logging.getLogger(__name__)
T = TypeVar("T")
INTAKE_GRACE_S = 60.0
REDEAL_BACKOFF_S = 5.0
MEMBERSHIP_EVENTS = (MemberSuspended, MemberReinstated, MemberKeysRotated, MemberAdmitted, MemberBootstrapped)
MAX_BACKOFF_S = 300.0
#: Seconds a restarted service waits for the transactions its earlier instance left pending (a batch's
#: commitment sent just before it stopped) before deciding which of the kept batches were committed.
PENDING_WAIT_S = 120.0


@dataclass
class ServiceProcess:
    """The service's state: the dealer for the group and every batch it committed."""

    dep: Deployment
    service: PreprocessingService
    levels: dict[TupleKey, int]
    progress: Reporter = field(default_factory=NoProgress)
    batches: dict[bytes, Offer] = field(default_factory=dict)
    committed_at: dict[bytes, float] = field(default_factory=dict)
    delivered: dict[bytes, set[int] | None] = field(default_factory=dict)  # None: intake over
    finished: dict[bytes, BatchHeader] = field(default_factory=dict)  # Attested by every member: header only.
    backoff: dict[TupleKey, tuple[float, float]] = field(default_factory=dict)  # (until, delay) after a rejection
    warned: set[bytes] = field(default_factory=set)
    stopping: threading.Event = field(default_factory=threading.Event)
    next_block: int = 0  # The first block whose membership events were not read yet.
    paused: str | None = None  # Why nothing is dealt: the registry's active members changed.

    @classmethod
    def start(cls, dep: Deployment, account: LocalAccount, levels: dict[TupleKey, int], state: Path,
              progress: Reporter | None = None) -> ServiceProcess:
        """The service for the registry's active members, dealing under the key kept in ``state``."""
        first_block = int(dep.chain.w3.eth.block_number)
        members = dep.registry.active_members()
        if len(members) < 2:
            raise ConfigError(f"the registry has {len(members)} active members; a group needs 2 or more")
        owners = [k.owner for k in levels if k.owner is not None]
        if owners and max(owners) >= len(members):
            raise ConfigError(f"input masks for owner {max(owners)} but the group has {len(members)} members")
        service = PreprocessingService(dep, account, members, state, kept=kept_folder(state))
        if service.loaded is not None:  # Always, given a state file: it says which key it deals under.
            _announce(dep, service.loaded)
        process = cls(dep, service, levels, progress or NoProgress(), next_block=first_block)
        process.resume()
        return process

    def resume(self) -> None:
        """Takes over the batches an earlier service with this state dealt: serves those still in intake.

        A batch kept whole that the chain does not know was never committed (the
        earlier service stopped in between) and is deleted, like one rejected;
        so the transactions the earlier service left pending (on a chain that
        mines every few seconds, a commitment sent just before it stopped) are
        waited for first, up to ``PENDING_WAIT_S``.
        """
        store = self.service.store
        if store is None:
            return
        self.await_pending_transactions()
        if self.stopping.is_set():
            return
        for header in store.headers():
            record = self.dep.ledger.batch(header.batch_id)
            if record.status is not BatchStatus.COMMITTED:
                store.forget(header.batch_id)
            elif record.attestations >= self.group_size:
                self.finished[header.batch_id] = header
            elif (sealed := store.get(header.batch_id)) is not None:
                self.batches[header.batch_id] = Offer(sealed, header.key, header.count)
                self.committed_at[header.batch_id] = time.monotonic()
                self.delivered[header.batch_id] = set()
        self.settle()
        if self.batches or self.finished:
            log.info("took over %d batches of an earlier service with this state: %d in intake, %d attested by "
                     "every member", len(self.batches) + len(self.finished), len(self.batches), len(self.finished))

    def await_pending_transactions(self) -> None:
        """Waits until the node has mined every transaction of the service's account it holds pending."""
        eth, address = self.dep.chain.w3.eth, Web3.to_checksum_address(self.service.address)
        deadline, told = time.monotonic() + PENDING_WAIT_S, False
        while (left := int(eth.get_transaction_count(address, "pending"))
               - int(eth.get_transaction_count(address, "latest"))) > 0:
            if time.monotonic() > deadline:
                log.warning("%d transactions of the earlier service are still pending after %g s; the kept batches "
                            "they commit are deleted (a member cannot be served them)", left, PENDING_WAIT_S)
                return
            if not told:
                log.info("waiting for %d pending transactions of the earlier service to be mined before taking over "
                         "its batches", left)
                told = True
            if self.stopping.wait(1.0):
                return

    @property
    def group_size(self) -> int:
        return len(self.service.recipients)

    def follow_membership(self) -> bool:
        """True while the registry's active members are the group the service deals for; else it says why.

        The active members are read again only when the registry logged a
        membership event (suspension, reinstatement, admission, key rotation)
        since the last poll. A changed group pauses dealing: its members would
        need a new MAC key, dealt by a service started for them.
        """
        tip = int(self.dep.chain.w3.eth.block_number)
        if tip < self.next_block:
            return self.paused is None
        changed = self.dep.registry.logs(*MEMBERSHIP_EVENTS, from_block=self.next_block, to_block=tip)
        self.next_block = tip + 1
        if not changed:
            return self.paused is None
        dealt_for = [(m.account.lower(), m.hpke_public_key) for m in self.service.recipients]
        active = self.dep.registry.active_members()
        if [(m.account.lower(), m.hpke_public_key) for m in active] == dealt_for:
            if self.paused is not None:
                log.warning("the registry's active members are again the group this service deals for; dealing resumes")
            self.paused = None
            return True
        self.paused = _group_change(self.service.recipients, active)
        log.warning("the registry's active members changed (%s): this service deals nothing more to the group of %d "
                    "it started for; restart `mpcc preprocess serve` to deal for the %d active members (it deals "
                    "them a new MAC key: %s)", self.paused, self.group_size, len(active), REFETCH)
        return False

    def stock(self, key: TupleKey) -> int:
        """Tuples of ``key`` a job may still reserve: of batches attested by every member.

        A used-up batch is forgotten (and so is one rejected after all: a member may
        reject a batch its sacrifice failed even after the others attested it).
        """
        total = 0
        for batch_id, header in list(self.finished.items()):
            if header.key != key:
                continue
            record = self.dep.ledger.batch(batch_id)
            if record.status is BatchStatus.COMMITTED and record.available > 0:
                total += record.available
            else:
                log.info("batch %s of %s is %s: forgotten", batch_id.hex(), key,
                         "used up" if record.status is BatchStatus.COMMITTED else record.status.name.lower())
                del self.finished[batch_id]
                if self.service.store is not None:
                    self.service.store.forget(batch_id)
        return total

    def settle(self) -> None:
        """Moves each held batch attested by every member to ``finished`` and drops rejected ones.

        A finished batch's ciphertexts are dropped: every member holds its part,
        so nobody asks for it again; this bounds the service's memory.
        """
        for batch_id, offer in list(self.batches.items()):
            batch = self.dep.ledger.batch(batch_id)
            if batch.status is BatchStatus.COMMITTED and batch.attestations < self.group_size:
                self._warn_if_slow(batch_id, offer, batch.attestations)
                continue
            del self.batches[batch_id]
            store = self.service.store
            if batch.status is BatchStatus.COMMITTED:
                self.finished[batch_id] = offer.sealed.header
                self.backoff.pop(offer.key, None)
            else:
                if store is not None:
                    store.forget(batch_id)
                delay = min(2 * self.backoff.get(offer.key, (0.0, REDEAL_BACKOFF_S / 2))[1], MAX_BACKOFF_S)
                self.backoff[offer.key] = (time.monotonic() + delay, delay)
                log.warning("batch %s of %s was %s by a member (see its log for why); dealing %s again in %.0f s",
                            batch_id.hex(), offer.key, batch.status.name.lower(), offer.key, delay)

    def _warn_if_slow(self, batch_id: bytes, offer: Offer, attestations: int) -> None:
        if batch_id in self.warned or time.monotonic() - self.committed_at[batch_id] < INTAKE_GRACE_S:
            return
        self.warned.add(batch_id)
        log.warning("batch %s of %d %s was committed %.0f s ago and is attested by %d of %d members; no "
                    "new batch of %s is dealt until every member attested it or one rejected it (is every "
                    "member's peer running?)", batch_id.hex(), offer.count, offer.key,
                    time.monotonic() - self.committed_at[batch_id], attestations, self.group_size, offer.key)

    def wanted(self) -> list[tuple[TupleKey, int]]:
        """The next batch of each key stocked below its level: none while one of the key awaits attestations.

        One batch of a key is in flight at a time (backpressure), of at most
        max_batch_count tuples, so the service holds at most one bounded batch
        per key however large the level.
        """
        busy = {o.key for o in self.batches.values()}
        now, wanted = time.monotonic(), []
        for key, level in self.levels.items():
            if key in busy or now < self.backoff.get(key, (0.0, 0.0))[0]:
                continue
            short = level - self.stock(key)
            if short > 0:
                wanted.append((key, min(short, max_batch_count(key.kind))))
        return wanted

    def refill(self) -> list[Offer]:
        """Commits the next bounded batch of each key stocked below its level (see :meth:`wanted`)."""
        if self.stopping.is_set() or not self.follow_membership():
            return []
        self.settle()
        low = self.wanted()
        made: list[Offer] = []
        for step, (key, count) in enumerate(low):
            if self.stopping.is_set():
                break
            log.info("dealing a batch of %d %s (%d of %d stocked)", count, key, self.stock(key), self.levels[key])
            self.progress.update("refill", f"dealing, sealing and committing {count} {key}", step, len(low))
            for offer in self.service.produce(Needs.of(key, count)):
                self.batches[offer.batch_id] = offer
                self.committed_at[offer.batch_id] = time.monotonic()
                self.delivered[offer.batch_id] = set()
                log.info("batch %s committed: %d %s", offer.batch_id.hex(), offer.count, key)
                made.append(offer)
        if low:
            self.progress.finish("refill", f"{len(made)} batches committed")
        return made

    def report_intake(self) -> None:
        """Progress of each batch until every member attested it: fetched, then sacrifice-checked."""
        n = self.group_size
        for batch_id, parties in list(self.delivered.items()):
            if parties is None:
                continue
            task, batch = f"batch {batch_id.hex()[:12]}", self.dep.ledger.batch(batch_id)
            if batch.status is not BatchStatus.COMMITTED or batch.attestations >= n:
                self.delivered[batch_id] = None
                self.progress.finish(task, f"sacrifice-checked and attested by all {n} members"
                                     if batch.status is BatchStatus.COMMITTED else batch.status.name.lower())
            else:
                self.progress.update(task, f"{self.batches[batch_id].key}: fetched by {len(parties)}, "
                                     f"attested by {batch.attestations} of {n} members",
                                     len(parties) + batch.attestations, 2 * n)

    def kept(self, batch_id: bytes) -> SealedBatch | None:
        """An attested batch, read from the store (it is not held in memory)."""
        store = self.service.store
        return store.get(batch_id) if store is not None and batch_id in self.finished else None

    def respond(self, request: bytes) -> tuple[int, bytes]:
        """(status, body) for one request (see the module docstring)."""
        if len(request) != REQUEST.size:
            return BAD_REQUEST, b"request of the wrong length"
        version, op, party, batch_id = REQUEST.unpack(request)
        if version != WIRE_VERSION:
            return BAD_REQUEST, f"request version {version}, this service speaks {WIRE_VERSION}".encode()
        if op == OP_LIST:
            # Copies: the dealing thread changes both while the event loop answers.
            headers = [o.sealed.header.to_bytes() for o in list(self.batches.values())]
            headers += [h.to_bytes() for h in list(self.finished.values())]
            return OK, len(headers).to_bytes(4, "big") + b"".join(headers)
        if party >= self.group_size:
            return NOT_FOUND, f"no party {party} in a group of {self.group_size}".encode()
        if op == OP_KEY_SHARE:
            sealed = self.service.sealed_keys[party]
            return OK, self.service.group + self.group_size.to_bytes(2, "big") + party.to_bytes(2, "big") + sealed
        if op == OP_BATCH:
            offer = self.batches.get(batch_id)
            sealed = offer.sealed if offer is not None else self.kept(batch_id)
            if sealed is None:
                return NOT_FOUND, f"no batch {batch_id.hex()} here (not dealt by this service, or used up)".encode()
            parties = self.delivered.get(batch_id)
            if parties is not None:
                parties.add(party)
            return OK, sealed.delivery(party).to_bytes()
        return BAD_REQUEST, f"unknown op {op}".encode()


def kept_folder(state: Path) -> Path:
    """Where the service with dealer state ``state`` keeps the batches it dealt (mpcc.service.batch_store)."""
    return state.with_name(state.name + ".batches")


def _group_change(dealt_for: Sequence[Member], active: Sequence[Member]) -> str:
    """What differs between two groups of members, in words."""
    was, now = {m.account.lower(): m for m in dealt_for}, {m.account.lower(): m for m in active}
    rotated = [m.account for a, m in now.items() if a in was and m.hpke_public_key != was[a].hpke_public_key]
    parts = [f"no longer active: {', '.join(m.account for a, m in was.items() if a not in now)}",
             f"newly active: {', '.join(m.account for a, m in now.items() if a not in was)}",
             f"keys rotated: {', '.join(rotated)}"]
    return "; ".join(p for p in parts if not p.endswith(": ")) or "the same members in another order"


def _announce(dep: Deployment, loaded: LoadedKeys) -> None:
    """Logs which MAC key the service deals under; a warning when members may hold another one."""
    if loaded.outcome == "created":
        earlier = len(dep.ledger.logs(BatchCommitted, from_block=dep.manifest.deploy_block))
        if earlier:
            log.warning("%s; but the ledger of this deployment already holds committed batches (%d), dealt "
                        "under a MAC key this state does not hold: %s", loaded.message, earlier, REFETCH)
            return
    log.log(logging.WARNING if loaded.outcome == "replaced" else logging.INFO, "%s", loaded.message)


async def serve(process: ServiceProcess, host: str, port: int, poll_s: float = 1.0,
                ready: asyncio.Event | None = None) -> None:
    """Serves requests on host:port and refills the stock every ``poll_s`` until cancelled."""
    with tempfile.TemporaryDirectory(prefix="mpcc-service-tls-") as tmp:
        context = _throwaway_tls(Path(tmp))
        server, _ = await start_server(lambda r, w: _handle(process, r, w), host, port, limits=ConnectionLimits(),
                                       name="the preprocessing service", context=context)
        log.info("preprocessing service for %d members listening on %s:%d", process.group_size, host, port)
        # Dealing, sealing and committing run on a daemon thread, the chain's receipts included:
        # requests for deliveries are answered meanwhile, and a signal ends the process at once
        # (a daemon thread is not waited for at exit; the dealer state is written before serving).
        watch = LoopWatch()
        watching = asyncio.ensure_future(watch.run())
        try:
            while True:
                try:
                    await _on_daemon_thread(process.refill)
                    if process.progress.enabled:
                        await _on_daemon_thread(process.report_intake)
                except Exception:
                    log.exception("refill failed; retrying")
                if ready is not None:
                    ready.set()
                await asyncio.sleep(poll_s)
        finally:
            process.stopping.set()
            watching.cancel()
            sent = list(process.dep.chain.log)
            log.info("stopping: event loop's longest stall %.3f s; %d transactions, longest receipt wait %.1f s",
                     watch.longest_s, len(sent), max((s.waited_s for s in sent), default=0.0))
            server.close()
            await server.wait_closed()


async def _on_daemon_thread(fn: Callable[[], T]) -> T:
    """``fn()`` on a new daemon thread, awaited: cancelling the wait leaves it to end with the process."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if not future.done():
            future.set_exception(error) if error is not None else future.set_result(result)  # type: ignore[arg-type]

    def work() -> None:
        try:
            outcome: tuple[T | None, BaseException | None] = (fn(), None)
        except BaseException as err:  # Handed to the awaiting coroutine, which logs it.
            outcome = (None, err)
        with contextlib.suppress(RuntimeError):  # The loop closed: nobody waits any more.
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=work, name="mpcc-dealing", daemon=True).start()
    return await future


async def _handle(process: ServiceProcess, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    host, port = writer.get_extra_info("peername")[:2]
    peer = f"{host}:{port}"
    try:
        request = await asyncio.wait_for(reader.readexactly(REQUEST.size), 10.0)
        status, body = process.respond(request)
        log.info("request op %d from %s: status %d, %d bytes", request[1], peer, status, len(body))
        writer.write(RESPONSE_HEAD.pack(WIRE_VERSION, status, len(body)) + body)
        await writer.drain()
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ssl.SSLError) as err:
        log.warning("request from %s failed: %s", peer, err or type(err).__name__)
    finally:
        writer.close()


def _throwaway_tls(directory: Path) -> ssl.SSLContext:
    """A TLS 1.3 server context with a fresh self-signed certificate (see the module docstring)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mpcc preprocessing service")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    key_path, cert_path = directory / "key.pem", directory / "cert.pem"
    key_path.touch(mode=0o600)
    # Even a throwaway key is never on disk in clear: its password lives in memory only.
    password = secrets.token_bytes(32)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.BestAvailableEncryption(password)))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(cert_path, key_path, password=password)
    return context
