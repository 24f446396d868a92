"""LowGear's broadcast of ciphertexts under each party's own key, each proven with a TopGear proof before use.

Every value a party encrypts under its own key and broadcasts goes through
:func:`announce`: its MAC key share once per session (with a diagonal proof:
the plaintext is the same in every slot) and its share a_i of every batch
(with TopGear proofs of U ciphertexts each). Its public key, once per
session, goes through the same steps (:func:`exchange_keys`): a key is an
encryption under a statement key (:mod:`offchain.dealerless.keys`). The
steps, after Baum-Cozzo-Smart 2019 (TopGear) with the challenge from the
joint coin:

1. Encrypt each plaintext keeping its randomness, cut the ciphertexts into
   groups of U and pad the last with (0, 0) = Enc(0; 0, 0, 0), which both
   sides know and nobody sends (:func:`offchain.lattice.zk.zero_ciphertext`);
   commit to each group's proof (:func:`offchain.lattice.zk.commit`).
2. Broadcast the ciphertexts with the digests of the commitments, in one
   message.
3. Toss the joint coin (:func:`offchain.engine.coin.toss`): only now, with
   every party's ciphertexts and commitments fixed, is any challenge known.
   Proof g of party j answers the challenge of seed H(coin, j, g).
4. Broadcast the responses.
5. Verify every peer's every proof (:func:`offchain.lattice.zk.verify_digest`).
   If any fails, raise ProofFailed naming every party whose proof failed:
   nothing has been multiplied into any ciphertext yet.

What comes back, for every peer j, is f C for each of its ciphertexts C,
with f = 2 for TopGear and f = L = 27720 for the diagonal proof
(``ProofParams.vouched``): a verified proof vouches for f C, not C
(:mod:`offchain.lattice.zk`), so the returns multiply f C by y f^-1 mod r
(:mod:`offchain.dealerless.returns`); the noise bound of
:mod:`offchain.lattice.noise` is that of f C. A proof of
U ciphertexts costs about as much as one of a single ciphertext, so batches
of a multiple of U ciphertexts make the best use of it.

Broadcast is the engine's echo-later broadcast: each message enters every
receiver's transcript, and the parties compare transcripts at the sacrifice's
MAC check, so a party that told different parties different things is
caught there (BroadcastMismatch). Each party verifies the ciphertexts it
received, so what it multiplies is what it has verified.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence

from offchain.dealerless.keys import SEED_BYTES, SessionKeys, refuse, seed_stream, statement, witness
from offchain.dealerless.messages import (
    announcement_message,
    key_message,
    proof_message,
    read_announcement,
    read_key,
    read_proof,
)
from offchain.engine.coin import toss
from offchain.engine.comm import broadcast_all, decode
from offchain.engine.session import Session
from offchain.errors import ConfigError, ProofFailed
from offchain.lattice import zk
from offchain.lattice.bgv import Ciphertext, PublicKey, keygen_with_witness
from offchain.lattice.params import RingParams
from offchain.lattice.sampling import RandBytes
from offchain.lattice.slots import Plaintext
from offchain.lattice.zk import Commitment, Preimage, ProverState, Response
from offchain.lattice.zkparams import ProofParams

_PROOF_SEED_TAG = b"mpcc-lowgear-proof-seed-v1"


async def announce(ctx: Session, keys: SessionKeys, plaintexts: Sequence[Plaintext],
                   proof: ProofParams | None = None) -> dict[int, list[Ciphertext]]:
    """Broadcasts Enc_i(m) for each plaintext m under this party's key, proven; returns every peer's f C, by party.

    The first step of LowGear's triple generation (KPR18): each party
    broadcasts Enc_i(a_i). ``proof`` defaults to the ring's TopGear proof;
    a diagonal one proves constant plaintexts (the MAC key share).
    """
    if ctx.party != keys.party:
        raise ConfigError("these keys belong to another party")
    pairs = await asyncio.to_thread(_encrypt_all, keys.public[keys.party], plaintexts, ctx.randbytes)
    return await broadcast_proven(ctx, keys, [c for c, _ in pairs], [w for _, w in pairs], proof)


async def broadcast_proven(ctx: Session, keys: SessionKeys, ciphertexts: Sequence[Ciphertext],
                           witnesses: Sequence[Preimage], proof: ProofParams | None = None
                           ) -> dict[int, list[Ciphertext]]:
    """Steps 1 (from the commitments) to 5 for ciphertexts under this party's key and their preimages.

    Every party must pass as many ciphertexts. The preimages are not checked
    here: one beyond the honest bounds makes a proof the peers refuse.
    """
    params = keys.params
    proof = proof or ProofParams.for_ring(params.n)
    if len(ciphertexts) != len(witnesses) or not ciphertexts:
        raise ConfigError("one preimage per ciphertext, and at least one ciphertext")
    if proof.n != params.n:
        raise ConfigError(f"a proof for dimension {proof.n} cannot cover ciphertexts of dimension {params.n}")
    count, groups = len(ciphertexts), -(-len(ciphertexts) // proof.u)
    states, commitments = await asyncio.to_thread(_commit_all, keys.public[keys.party], witnesses, proof,
                                                  ctx.randbytes)
    # Encoding, parsing, responses and checks of megabytes of ciphertexts and proofs run in worker
    # threads: on the event loop they stalled the daemon's channels for tenths of seconds.
    announced = await broadcast_all(ctx, await asyncio.to_thread(
        lambda: announcement_message(ciphertexts, [c.digest() for c in commitments])))
    statements = {j: await asyncio.to_thread(decode, j, lambda data: read_announcement(data, params, count, groups),
                                             announced[j])
                  for j in keys.peers}
    coin = await toss(ctx)
    answered = await broadcast_all(ctx, await asyncio.to_thread(
        lambda: proof_message([zk.respond(state, proof_seed(coin, ctx.party, g)) for g, state in enumerate(states)],
                              proof)))
    failures: list[tuple[int, ProofFailed]] = []
    for j in keys.peers:
        cts, digests = statements[j]
        try:
            await asyncio.to_thread(_read_and_verify, keys.public[j], cts, digests, coin, j, answered[j], proof,
                                    groups)
        except ProofFailed as failure:
            failures.append((j, failure))
    refuse(failures)
    return await asyncio.to_thread(
        lambda: {j: [vouched(ct, proof) for ct in statements[j][0]] for j in keys.peers})


async def exchange_keys(ctx: Session, params: RingParams) -> SessionKeys:
    """Every party's key pair, each proven well formed (the steps and soundness in the module docstring)."""
    seed = ctx.randbytes(SEED_BYTES)
    secret, public, s, e = await asyncio.to_thread(keygen_with_witness, params, seed_stream(seed))
    sent = await broadcast_all(ctx, await asyncio.to_thread(key_message, public))
    keys = [public if j == ctx.party else await asyncio.to_thread(decode, j, lambda data: read_key(data, params),
                                                                    sent[j])
            for j in range(ctx.n_parties)]
    statements = await asyncio.to_thread(lambda: [statement(pk) for pk in keys])
    proving = SessionKeys(params, ctx.party, secret, tuple(key for key, _ in statements))
    mine = statements[ctx.party][1]
    proof = ProofParams.for_ring(params.n)
    proven = await broadcast_proven(ctx, proving, [mine], [await asyncio.to_thread(witness, s, e)], proof)
    failures = [(j, ProofFailed("public key", "the key proven is not the public key it broadcast"))
                for j, cts in proven.items()
                if not await asyncio.to_thread(_is_vouched, cts[0], statements[j][1], proof)]
    refuse(failures)
    return SessionKeys(params, ctx.party, secret, tuple(keys), seed)


def _is_vouched(verified: Ciphertext, stated: Ciphertext, proof: ProofParams) -> bool:
    """Whether a verified ciphertext, as the proof vouches for it, is the one stated (f C of it)."""
    expected = vouched(stated, proof)
    return verified.c0 == expected.c0 and verified.c1 == expected.c1 and verified.scale == expected.scale


def vouched(ct: Ciphertext, proof: ProofParams) -> Ciphertext:
    """f C for f = ``proof.vouched``: what a verified proof vouches for (2 C, or L C if diagonal)."""
    return ct + ct if proof.vouched == 2 else Ciphertext(ct.c0.scale(proof.vouched), ct.c1.scale(proof.vouched))


def proof_seed(coin: bytes, party: int, group: int) -> bytes:
    """The challenge seed of proof ``group`` of ``party``: SHA-256 of a tag, the coin, party (2 bytes), group (4)."""
    return hashlib.sha256(_PROOF_SEED_TAG + coin + party.to_bytes(2, "big") + group.to_bytes(4, "big")).digest()


def _encrypt_all(pk: PublicKey, plaintexts: Sequence[Plaintext],
                 randbytes: RandBytes) -> list[tuple[Ciphertext, Preimage]]:
    return [zk.encrypt_for_proof(pk, pt, randbytes) for pt in plaintexts]


def _commit_all(pk: PublicKey, witnesses: Sequence[Preimage], proof: ProofParams,
                randbytes: RandBytes) -> tuple[list[ProverState], list[Commitment]]:
    """One proof per U witnesses, the last group padded with the preimage of (0, 0)."""
    states, commitments = [], []
    for start in range(0, len(witnesses), proof.u):
        group = list(witnesses[start:start + proof.u])
        group += [Preimage.zero(proof.n)] * (proof.u - len(group))
        state, commitment = zk.commit(pk, group, randbytes, proof)
        states.append(state)
        commitments.append(commitment)
    return states, commitments


def _read_and_verify(pk: PublicKey, ciphertexts: Sequence[Ciphertext], digests: Sequence[bytes], coin: bytes,
                     party: int, answered: bytes, proof: ProofParams, groups: int) -> None:
    """One peer's proofs parsed from its message (its own fault if they do not parse), then verified."""
    answers = decode(party, lambda data: read_proof(data, proof, groups), answered)
    _verify_all(pk, ciphertexts, digests, coin, party, answers, proof)


def _verify_all(pk: PublicKey, ciphertexts: Sequence[Ciphertext], digests: Sequence[bytes], coin: bytes,
                party: int, responses: Sequence[Response], proof: ProofParams) -> None:
    """Every proof of one peer, its last group padded with (0, 0) as the prover padded it."""
    padding = zk.zero_ciphertext(pk.params)
    for g, (digest, response) in enumerate(zip(digests, responses, strict=True)):
        group = list(ciphertexts[g * proof.u:(g + 1) * proof.u])
        group += [padding] * (proof.u - len(group))
        zk.verify_digest(pk, group, digest, proof_seed(coin, party, g), response, proof)
