"""offchain.curve against py_ecc and the EVM precompiles; the C kernel against the reference."""

from __future__ import annotations

import hashlib
import itertools
import pickle
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from py_ecc import optimized_bn128

from offchain import _g1kernel, _g1ref, curve
from offchain.curve import ORDER, Q, PointVec, commit, msm
from offchain.errors import ConfigError, DecodeError
from offchain.field import P, FieldVec

Affine = tuple[int, int] | None
ob: Any = optimized_bn128  # py_ecc does not declare its exports
KERNEL = _g1kernel.load()
BACKENDS: dict[str, Any] = {"reference": _g1ref.ReferenceOps(),
                            "reference_int": _g1ref.ReferenceOps(int)}
if KERNEL is not None:
    BACKENDS["kernel"] = KERNEL
needs_kernel = pytest.mark.skipif(KERNEL is None, reason="libmpccg1.so is not built (no gcc?)")
EDGE_SCALARS = [0, 1, 2, ORDER - 1, ORDER - 2, ORDER // 2, 2**128, 2**253 + 1]
H_XY = curve.H.to_ints()[0]
assert H_XY is not None


# py_ecc as the oracle -------------------------------------------------------------------
def to_ob(p: Affine) -> Any:
    return ob.Z1 if p is None else (ob.FQ(p[0]), ob.FQ(p[1]), ob.FQ.one())


def from_ob(p: Any) -> Affine:
    if ob.is_inf(p):
        return None
    x, y = ob.normalize(p)
    return int(x.n), int(y.n)


def ob_mul(p: Affine, k: int) -> Affine:
    return from_ob(ob.multiply(to_ob(p), k % ORDER))


def ob_add(p: Affine, q: Affine) -> Affine:
    return from_ob(ob.add(to_ob(p), to_ob(q)))


def ob_neg(p: Affine) -> Affine:
    return from_ob(ob.neg(to_ob(p)))


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Runs a test once on each backend (curve._ops is read at every call)."""
    monkeypatch.setattr(curve, "_ops", BACKENDS[request.param])
    yield request.param


@pytest.fixture(scope="module")
def sample() -> dict[str, Any]:
    """Points k_i*G for edge and random k_i, scalars s_i, and py_ecc's k_i*s_i*G (made once)."""
    ks = [1, 2, ORDER - 1, 0, 7] + [secrets.randbelow(ORDER) for _ in range(3)]
    ss = [0, 1, ORDER - 1, 5, ORDER - 2] + [secrets.randbelow(ORDER) for _ in range(3)]
    g = (1, 2)
    return {"ks": ks, "ss": ss, "points": [ob_mul(g, k) for k in ks],
            "products": [ob_mul(g, k * s) for k, s in zip(ks, ss)]}


# Constants and the generator H ------------------------------------------------------------
def test_constants_match_bn254_and_the_field() -> None:
    assert ORDER == P == ob.curve_order
    assert Q == ob.field_modulus
    assert curve.G.to_ints() == [(1, 2)]
    assert from_ob(ob.G1) == (1, 2)


def test_h_is_reproduced_by_try_and_increment() -> None:
    for counter in itertools.count():
        digest = hashlib.sha256(b"mpcc/pedersen/H/v1" + counter.to_bytes(4, "big")).digest()
        x = int.from_bytes(digest, "big") % Q
        rhs = (x**3 + 3) % Q
        if pow(rhs, (Q - 1) // 2, Q) == 1:  # Euler's criterion: rhs is a nonzero square
            break
    y = pow(rhs, (Q + 1) // 4, Q)
    y = y if y % 2 == 0 else Q - y
    assert curve.H.to_ints() == [(x, y)] == [curve.derive_generator(curve.H_TAG)]
    assert ob.is_on_curve(to_ob((x, y)), ob.b)
    # Pinned, so that a change of the derivation cannot go unnoticed.
    assert x == 9938286881195412549442322333396069393184817566798648576433624308564839760951


# Against py_ecc, on every backend ------------------------------------------------------------
def test_scale_elementwise_matches_py_ecc(backend: str, sample: dict[str, Any]) -> None:
    points = PointVec.from_ints(sample["points"])
    assert points.scale(FieldVec.from_ints(sample["ss"])).to_ints() == sample["products"]


def test_scale_by_one_int(backend: str, sample: dict[str, Any]) -> None:
    points = PointVec.from_ints(sample["points"])
    assert points.scale(1) == points
    assert points.scale(0) == PointVec.infinity(len(points))
    assert points.scale(ORDER - 1) == points.scale(-1) == -points
    assert points.scale(ORDER + 2) == points + points
    c = secrets.randbelow(ORDER)
    expected = [ob_mul((1, 2), k * c) for k in sample["ks"][:3]]
    assert points[:3].scale(c).to_ints() == expected


def test_add_sub_neg_match_py_ecc(backend: str, sample: dict[str, Any]) -> None:
    ps = sample["points"]
    qs = [ps[0], ob_neg(ps[1]), None, ps[4], None, ps[5], ps[7], ps[2]]
    a, b = PointVec.from_ints(ps), PointVec.from_ints(qs)
    assert (a + b).to_ints() == [ob_add(p, q) for p, q in zip(ps, qs)]
    assert (a - b).to_ints() == [ob_add(p, ob_neg(q)) for p, q in zip(ps, qs)]
    assert (-a).to_ints() == [ob_neg(p) for p in ps]
    assert (a + a).to_ints() == [from_ob(ob.double(to_ob(p))) for p in ps]


def test_infinity_and_inverse_points(backend: str, sample: dict[str, Any]) -> None:
    a = PointVec.from_ints(sample["points"])
    inf = PointVec.infinity(len(a))
    assert a - a == a + (-a) == inf
    assert a + inf == inf + a == a
    assert inf + inf == -inf == inf.scale(5) == inf
    assert inf.to_bytes() == bytes(64 * len(a)) and inf.to_ints() == [None] * len(a)
    assert inf.sum() == PointVec.infinity(1) == PointVec.infinity(0).sum()


def test_sum_and_msm_match_py_ecc(backend: str, sample: dict[str, Any]) -> None:
    points, ks, ss = PointVec.from_ints(sample["points"]), sample["ks"], sample["ss"]
    assert points.sum().to_ints() == [ob_mul((1, 2), sum(ks))]
    assert msm(points, FieldVec.from_ints(ss)).to_ints() == [
        ob_mul((1, 2), sum(k * s for k, s in zip(ks, ss)))]
    assert msm(PointVec.infinity(0), FieldVec.zeros(0)) == PointVec.infinity(1)
    # A larger MSM against the elementwise products summed.
    many = points.scale(FieldVec.random(len(points)))
    many = PointVec.concat([many] * 5)
    scalars = FieldVec.random(len(many))
    assert msm(many, scalars) == many.scale(scalars).sum()


def test_commit_matches_py_ecc(backend: str) -> None:
    # Extreme window digits: all +64 (w = 7, the kernel) and all +128 (w = 8, the reference).
    top7, top8 = sum(64 << (7 * i) for i in range(36)), sum(128 << (8 * i) for i in range(31))
    vs = [0, 1, ORDER - 1, 0, top7, top8, secrets.randbelow(ORDER)]
    rs = [0, 0, 1, ORDER - 1, top8, top7 + 1, secrets.randbelow(ORDER)]
    expected = [ob_add(ob_mul((1, 2), v), ob_mul(H_XY, r)) for v, r in zip(vs, rs)]
    assert commit(FieldVec.from_ints(vs), FieldVec.from_ints(rs)).to_ints() == expected


def test_commit_is_homomorphic(backend: str) -> None:
    a, b, r, s = (FieldVec.random(6) for _ in range(4))
    assert commit(a, r) + commit(b, s) == commit(a + b, r + s)
    assert commit(a, r) - commit(b, s) == commit(a - b, r - s)
    assert commit(a, r).scale(7) == commit(a * 7, r * 7)
    assert commit(a, r).scale(b) == commit(a * b, r * b)
    total = commit(FieldVec.from_ints([a.sum()]), FieldVec.from_ints([r.sum()]))
    assert commit(a, r).sum() == total


# Decoding ------------------------------------------------------------------------------------
def test_invalid_points_are_refused_with_their_index(backend: str) -> None:
    good = curve.G.to_bytes() + bytes(64) + curve.H.to_bytes()
    assert len(PointVec.from_bytes(good)) == 3
    off_curve = (1).to_bytes(32, "big") + (3).to_bytes(32, "big")
    too_big = (1 + Q).to_bytes(32, "big") + (2).to_bytes(32, "big")  # G's x plus q
    y_too_big = (1).to_bytes(32, "big") + (2 + Q).to_bytes(32, "big")
    half_zero = bytes(32) + (2).to_bytes(32, "big")
    for bad in (off_curve, too_big, y_too_big, half_zero):
        with pytest.raises(DecodeError, match="point 2 "):
            PointVec.from_bytes(good[:128] + bad + good[128:])
    with pytest.raises(DecodeError, match="multiple of 64"):
        PointVec.from_bytes(good[:-1])
    with pytest.raises(DecodeError, match="point 1"):
        PointVec.from_ints([(1, 2), (1, 3)])
    with pytest.raises(DecodeError, match="point 0"):
        PointVec.from_ints([(0, 0)])
    with pytest.raises(DecodeError, match="point 0"):
        PointVec.from_ints([(Q + 1, 2)])


def test_vector_access_and_encoding() -> None:
    pts = PointVec.from_ints([(1, 2), None, H_XY])
    assert PointVec.from_bytes(pts.to_bytes()) == pts
    assert PointVec.from_ints(pts.to_ints()) == pts
    assert len(pts) == 3 and pts[1] == PointVec.infinity(1) and pts[-1] == curve.H
    assert pts[0:2] == PointVec.concat([curve.G, PointVec.infinity(1)])
    assert pts[::2] == PointVec.concat([curve.G, curve.H]) and pts[5:] == PointVec.infinity(0)
    assert list(pts) == [pts[0], pts[1], pts[2]]
    with pytest.raises(IndexError):
        pts[3]
    assert pickle.loads(pickle.dumps(pts)) == pts and hash(pts) == hash(pts[:])
    assert "PointVec(n=3" in repr(pts)
    with pytest.raises(AttributeError):
        pts._data = b""


def test_mismatched_lengths_and_types_are_refused() -> None:
    two = PointVec.concat([curve.G, curve.H])
    with pytest.raises(ConfigError):
        two + curve.G
    with pytest.raises(ConfigError):
        two.scale(FieldVec.zeros(3))
    with pytest.raises(ConfigError):
        commit(FieldVec.zeros(2), FieldVec.zeros(1))
    with pytest.raises(ConfigError):
        msm(two, FieldVec.zeros(1))
    with pytest.raises(TypeError):
        two.scale(1.5)  # type: ignore[arg-type]


@given(st.lists(st.tuples(st.integers(0, ORDER - 1), st.integers(0, ORDER - 1)), max_size=6),
       st.integers(-(2**300), 2**300))
def test_group_laws(pairs: list[tuple[int, int]], c: int) -> None:
    vs, rs = FieldVec.from_ints([v for v, _ in pairs]), FieldVec.from_ints([r for _, r in pairs])
    a, b = commit(vs, rs), commit(rs, vs)
    assert a + b == b + a and (a + b) - b == a and a.scale(c) + b.scale(c) == (a + b).scale(c)
    assert a.scale(c) == commit(vs * c, rs * c)


# The C kernel against the reference --------------------------------------------------------
@needs_kernel
def test_kernel_and_reference_give_identical_bytes() -> None:
    ref, kernel = BACKENDS["reference"], KERNEL
    assert kernel is not None
    n = 300  # more than one chunk of 256 in the kernel
    points = commit(FieldVec.random(n), FieldVec.random(n)).to_bytes()
    points = points[:64 * 10] + bytes(64) + points[64 * 11:]
    others = points[64:] + points[:64]
    v, r = FieldVec.random(n).packed(), FieldVec.random(n).packed()
    for op, args in (("add", (points, others)), ("sub", (points, others)),
                     ("add", (points, points)), ("sub", (points, points)),
                     ("neg", (points,)), ("total", (points,)),
                     ("scale", (points[:64 * 12], v[:32 * 12])),
                     ("scale1", (points[:64 * 12], v[:32])),
                     ("msm", (points[:64 * 40], v[:32 * 40]))):
        assert getattr(kernel, op)(*args) == getattr(ref, op)(*args), op
    tables = curve._fixed_tables
    assert kernel.commit(tables(kernel), v, r) == ref.commit(tables(ref), v, r)
    # Scalars >= ORDER are reduced first, in both.
    big = (2**256 - 1).to_bytes(32, "big")
    assert kernel.scale1(points[:64], big) == ref.scale1(points[:64], big)


def test_missing_library_falls_back_to_the_reference(tmp_path: Path) -> None:
    assert _g1kernel.load(tmp_path / "absent.so") is None
    code = "from offchain import curve; print(curve.BACKEND)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"MPCC_CURVE": "reference"}, cwd=Path(curve.__file__).parents[1])
    assert out.stdout.strip() == "reference"


# The EVM precompiles ecAdd (0x06) and ecMul (0x07) -----------------------------------------
def test_evm_precompiles_agree() -> None:
    from onchain.embedded import in_memory_chain

    w3 = in_memory_chain().w3

    def call(address: int, data: bytes) -> bytes:
        return bytes(w3.eth.call({"to": w3.to_checksum_address(f"0x{address:040x}"), "data": data}))

    pts = commit(FieldVec.random(3), FieldVec.random(3))
    pts = PointVec.concat([pts, PointVec.infinity(1), -pts[0]])
    pairs = [(pts[0], pts[1]), (pts[0], pts[0]), (pts[0], pts[4]), (pts[3], pts[2]),
             (pts[3], pts[3])]
    for p, q in pairs:
        assert call(6, p.to_bytes() + q.to_bytes()) == (p + q).to_bytes()
    for p, k in ((pts[0], secrets.randbelow(ORDER)), (pts[1], ORDER - 1), (pts[2], 0),
                 (pts[3], 12345), (pts[2], 2**256 - 1)):
        assert call(7, p.to_bytes() + k.to_bytes(32, "big")) == p.scale(k).to_bytes()


def test_compression_round_trips_and_halves_the_bytes() -> None:
    points = curve.PointVec.concat([curve.commit(FieldVec.random(200), FieldVec.random(200)),
                                    curve.PointVec.infinity(1), curve.G, -curve.G, curve.H])
    packed = curve.compress(points)
    assert len(packed) == curve.COMPRESSED_BYTES * len(points)
    assert curve.decompress(packed) == points
    assert curve.compress(curve.G) == (1 | 0).to_bytes(32, "big")  # G = (1, 2): y even.
    assert curve.compress(-curve.G)[0] & 0x80  # -G = (1, Q - 2): y odd.
    assert curve.compress(curve.PointVec.infinity(1)) == bytes([0x40]) + bytes(31)


@pytest.mark.parametrize("word, message", [
    (0, "not on BN254 G1"),                         # x = 0: 3 is not a square mod Q.
    (curve.Q, "not on BN254 G1"),                   # x >= Q.
    ((1 << 254) | 1, "bad infinity encoding"),      # The infinity flag with an x.
])
def test_decompression_refuses_what_is_not_a_point(word: int, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        curve.decompress(word.to_bytes(32, "big"))
    with pytest.raises(DecodeError, match="multiple of 32"):
        curve.decompress(bytes(31))
