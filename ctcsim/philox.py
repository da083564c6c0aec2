"""Philox4x64-10 in pure Python: the per-unit streams of ext/philox.h, for the reference and the tests."""
from __future__ import annotations

import math

_M0, _M1 = 0xD2E7470EE14C6C93, 0xCA5A826395121157
_W0, _W1 = 0x9E3779B97F4A7C15, 0xBB67AE8584CAA73B
_MASK = (1 << 64) - 1


def philox_block(ctr, key):
    """One Philox4x64-10 block (integers in, integers out)."""
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for r in range(10):
        if r:
            k0, k1 = (k0 + _W0) & _MASK, (k1 + _W1) & _MASK
        p0, p1 = _M0 * c0, _M1 * c2
        c0, c1, c2, c3 = (p1 >> 64) ^ c1 ^ k0, p1 & _MASK, (p0 >> 64) ^ c3 ^ k1, p0 & _MASK
    return c0, c1, c2, c3


class Stream:
    """The per-unit counter-based stream of ext/philox.h."""

    def __init__(self, key, unit, stream):
        self.key = (int(key[0]), int(key[1]))
        self.ctr = [0, int(unit), int(stream), 0]
        self.buf, self.pos = (), 4

    def raw(self):
        if self.pos == 4:
            for i in range(4):  # increment with carry, as numpy's Philox does
                self.ctr[i] = (self.ctr[i] + 1) & _MASK
                if self.ctr[i]:
                    break
            self.buf, self.pos = philox_block(self.ctr, self.key), 0
        self.pos += 1
        return self.buf[self.pos - 1]

    def uniform(self):
        return (self.raw() >> 11) * (1.0 / 9007199254740992.0)

    def exponential(self):
        return -math.log(((self.raw() >> 11) + 1) * (1.0 / 9007199254740992.0))
