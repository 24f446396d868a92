"""The dealer's random stream: ChaCha20 under keys from `secrets`, never repeating."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from offchain.errors import ConfigError
from offchain.preprocessing import dealer
from offchain.preprocessing.dealer import StreamBytes

# RFC 8439, appendix A.1, test vector 1: key 0, nonce 0, block counter 0.
RFC8439_BLOCK0 = bytes.fromhex(
    "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
    "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586")


def test_the_stream_is_the_chacha20_keystream(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dealer.secrets, "token_bytes", lambda n: bytes(n))
    stream = StreamBytes()
    assert stream(10) + stream(54) == RFC8439_BLOCK0


def test_streams_and_calls_never_repeat() -> None:
    a, b = StreamBytes(), StreamBytes()
    first = a(64)
    assert len(first) == 64 and first != a(64) and first != b(64)


def test_a_new_key_is_drawn_before_the_budget_runs_out(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = iter([bytes(32), bytes([1]) * 32])
    monkeypatch.setattr(dealer.secrets, "token_bytes", lambda n: next(keys))
    monkeypatch.setattr(StreamBytes, "REKEY_BYTES", 64)
    stream = StreamBytes()
    assert stream(40) == RFC8439_BLOCK0[:40]
    # 40 + 40 > 64: the second call starts the stream of the second key.
    assert stream(40) == _chacha20(bytes([1]) * 32, 40)
    with pytest.raises(ConfigError, match="ask for fewer"):
        stream(65)


def _chacha20(key: bytes, n: int) -> bytes:
    return Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor().update(bytes(n))
