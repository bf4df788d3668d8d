"""Duplicate detection for a streaming pass: exact keys and MinHash-LSH band keys, in bounded memory.

``SeenSet`` remembers 64-bit keys in a few sorted numpy arrays (a log-structured merge: a new batch becomes a
small sorted run, and runs of similar size are merged), so a million samples cost about 8 bytes per key and
membership is a ``searchsorted`` per run. It is exact: no false positives beyond 64-bit hash collisions.

``MinHasher.signatures_flat`` computes MinHash signatures for a whole batch at once with numpy, by one-permutation
hashing: shingles are hashed windows of ``shingle`` consecutive token ids, each hashed once into one of
``num_perm`` bins. ``band_keys`` folds each band of ``rows`` values into one key
(LSH banding). Two samples whose signatures agree on a whole band are near-duplicates; with 8 bands of 8 rows the
collision probability is 50% at a Jaccard similarity of about 0.73, and above 95% from 0.87.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

import numpy as np

_MIX = np.uint64(0x9E3779B97F4A7C15)
_MIX2 = np.uint64(0xBF58476D1CE4E5B9)


def sequence_hashes(values: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each integer sequence ``values[starts[i]:ends[i]]`` (token ids): equal sequences hash
    equal in every process, distinct ones collide with probability about 2^-64."""
    from scoring.lexical import mix64, powers

    n = values.size
    pw, inv = powers(n + 1)
    with np.errstate(over="ignore"):
        sums = np.zeros(n + 1, dtype=np.uint64)
        np.cumsum(mix64(values.astype(np.uint64) + _MIX) * pw[:n], out=sums[1:])
        return mix64((sums[ends] - sums[starts]) * inv[starts] + (ends - starts).astype(np.uint64) * _MIX2)


def hash_keys(items: Iterable[Hashable]) -> np.ndarray:
    """uint64 keys from Python's ``hash`` (SipHash): fast, and stable within a process, which is as long as
    a run's seen-sets live (a resumed run rebuilds them)."""
    return np.fromiter(map(hash, items), dtype=np.int64).view(np.uint64)


class SeenSet:
    """An exact set of uint64 keys with batch ``check_and_add``."""

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []

    def __len__(self) -> int:
        return sum(len(r) for r in self._runs)

    @property
    def nbytes(self) -> int:
        return sum(r.nbytes for r in self._runs)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """For each key, whether the set holds it."""
        keys = np.asarray(keys, dtype=np.uint64)
        found = np.zeros(keys.shape, dtype=bool)
        for run in self._runs:
            idx = np.searchsorted(run, keys)
            idx[idx == len(run)] = 0
            found |= run[idx] == keys
        return found

    def check_and_add(self, keys: np.ndarray) -> np.ndarray:
        """For each key in order: was it seen before (in the set, or earlier in this batch)? Then add them all."""
        keys = np.asarray(keys, dtype=np.uint64).ravel()
        if keys.size == 0:
            return np.zeros(0, dtype=bool)
        seen = self.contains(keys)
        uniq, first = np.unique(keys, return_index=True)
        repeated = np.ones(keys.size, dtype=bool)
        repeated[first] = False
        seen |= repeated
        new = uniq[~self.contains(uniq)]
        if new.size:
            self._runs.append(new)
            while len(self._runs) > 1 and self._runs[-2].size <= 2 * self._runs[-1].size:
                b = self._runs.pop()
                a = self._runs.pop()
                merged = np.concatenate([a, b])
                merged.sort(kind="stable")
                self._runs.append(merged)
        return seen


class MinHasher:
    """Batch MinHash over token-id shingles, and LSH band keys. Seeded: the same input gives the same keys.

    One-permutation hashing with rotation densification (Li et al. 2012; Shrivastava & Li 2014): each shingle is
    hashed once, its top bits pick one of ``num_perm`` bins and the rest is its value there; a bin keeps its
    minimum. An empty bin (a short text) borrows the next filled bin's value, shifted by the distance. Two texts
    agree on a bin with probability equal to the Jaccard similarity of their shingle sets, as with ``num_perm``
    independent permutations, for one hash per shingle instead of ``num_perm``.
    """

    def __init__(self, num_perm: int = 64, bands: int = 8, shingle: int = 5, seed: int = 1) -> None:
        if num_perm % bands:
            raise ValueError("num_perm must be a multiple of bands")
        if num_perm & (num_perm - 1) or not 1 <= num_perm <= 1024:
            raise ValueError("num_perm must be a power of two up to 1024")
        self.num_perm, self.bands, self.rows, self.shingle = num_perm, bands, num_perm // bands, shingle
        rng = np.random.default_rng(seed)
        self._seed = rng.integers(1, 2**63, dtype=np.uint64) | np.uint64(1)
        self._bin_bits = num_perm.bit_length() - 1

    def signatures(self, token_lists: Sequence[Sequence[int]]) -> np.ndarray:
        """``(len(token_lists), num_perm)`` uint32 signatures. An empty list gets an all-ones signature."""
        lens = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=len(token_lists))
        flat = np.fromiter((x for t in token_lists for x in t), dtype=np.uint64, count=int(lens.sum()))
        offsets = np.zeros(lens.size + 1, dtype=np.int64)
        np.cumsum(lens, out=offsets[1:])
        return self.signatures_flat(flat, offsets)

    def signatures_flat(self, flat: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Signatures of the token sequences ``flat[offsets[i]:offsets[i+1]]``.

        A text shorter than one shingle is one shingle, padded with zeros; an empty text gets all ones.
        """
        n, k, p = offsets.size - 1, self.shingle, self.num_perm
        lens = np.diff(offsets)
        sig = np.full((n, p), 0xFFFFFFFF, dtype=np.uint32)
        flat = np.asarray(flat).astype(np.uint64)
        short = (lens > 0) & (lens < k)
        if short.any():
            # the few short texts, padded to one full shingle, go after the rest
            pads = [
                np.concatenate([flat[offsets[i] : offsets[i + 1]], np.zeros(k - lens[i], np.uint64)])
                for i in np.flatnonzero(short).tolist()
            ]
            flat = np.concatenate([flat, *pads])
        width = max(flat.size - k + 1, 0)
        if width == 0:
            return sig
        with np.errstate(over="ignore"):
            h = np.zeros(width, dtype=np.uint64)
            for j in range(k):
                h = (h ^ flat[j : j + width]) * _MIX
        # windows that lie inside one text
        counts = np.where(lens >= k, lens - k + 1, 0)
        valid_owner = np.repeat(np.arange(n), counts)
        at = np.arange(valid_owner.size) + np.repeat(offsets[:-1] - (np.cumsum(counts) - counts), counts)
        if short.any():
            short_idx = np.flatnonzero(short)
            valid_owner = np.concatenate([valid_owner, short_idx])
            at = np.concatenate([at, offsets[-1] + k * np.arange(short_idx.size)])
        h = h[at]
        with np.errstate(over="ignore"):
            h ^= h >> np.uint64(29)
            h *= self._seed
            h ^= h >> np.uint64(32)
            h *= _MIX2
            h ^= h >> np.uint64(29)
        bins = (
            (h >> np.uint64(64 - self._bin_bits)).astype(np.int64)
            if self._bin_bits
            else np.zeros(h.size, np.int64)
        )
        vals = (h & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        cell = valid_owner * p + bins
        flat_sig = sig.ravel()
        np.minimum.at(flat_sig, cell, vals)
        filled_flat = np.zeros(n * p, dtype=bool)
        filled_flat[cell] = True
        filled: np.ndarray = filled_flat.reshape(n, p)
        empty_rows = np.logical_not(filled.any(axis=1))
        if not filled.all():
            # rotation densification: an empty bin takes the next filled bin (circularly) plus a distance offset
            idx = np.where(np.concatenate([filled, filled], axis=1), np.arange(2 * p), 2 * p)
            nxt = np.minimum.accumulate(idx[:, ::-1], axis=1)[:, ::-1][:, :p]
            rows, cols = np.nonzero(~filled & ~empty_rows[:, None])
            src = nxt[rows, cols]
            dist = (src - cols).astype(np.uint32)
            with np.errstate(over="ignore"):
                sig[rows, cols] = sig[rows, src % p] + dist * np.uint32(0x9E3779B1)
        sig[lens == 0] = np.uint32(0xFFFFFFFF)
        return sig

    def band_keys(self, sig: np.ndarray) -> np.ndarray:
        """``(n, bands)`` uint64 keys, one per band, distinct across bands."""
        n = sig.shape[0]
        bands = sig.reshape(n, self.bands, self.rows).astype(np.uint64)
        key = np.zeros((n, self.bands), dtype=np.uint64)
        with np.errstate(over="ignore"):
            for r in range(self.rows):
                key = (key ^ bands[:, :, r]) * _MIX
            key ^= np.arange(1, self.bands + 1, dtype=np.uint64) * _MIX2
        return key

    @staticmethod
    def jaccard_estimate(a: np.ndarray, b: np.ndarray) -> float:
        """The share of equal signature values: an estimate of the Jaccard similarity of the shingle sets."""
        return float(np.mean(a == b))
