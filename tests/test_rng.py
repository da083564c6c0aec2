"""The per-unit streams are Philox4x64-10, bit for bit as numpy.random.Philox makes it."""
import numpy as np
import pytest


def philox(key, counter):
    """numpy's Philox; arrays of uint64, since numpy casts lists of large ints through float."""
    return np.random.Philox(key=np.array(key, np.uint64), counter=np.array(counter, np.uint64))

from ctcsim import _core
from ctcsim.philox import Stream

CASES = [
    (0, 0, 0, 0),
    (1, 2, 5, 1),
    (0xFFFFFFFFFFFFFFFF, 0x0123456789ABCDEF, 2**63 + 11, 2),
    (12345, 0, 999_999, 0),
]


@pytest.mark.parametrize("key0,key1,unit,stream", CASES)
def test_core_stream_equals_numpy_philox(key0, key1, unit, stream):
    """Stream (unit, stream) is numpy's Philox with counter (0, unit, stream, 0): 64 words = 16 blocks."""
    expected = philox([key0, key1], [0, unit, stream, 0]).random_raw(64)
    np.testing.assert_array_equal(_core.philox_raw(key0, key1, unit, stream, 64), expected)


@pytest.mark.parametrize("key0,key1,unit,stream", CASES)
def test_reference_stream_equals_numpy_philox(key0, key1, unit, stream):
    expected = philox([key0, key1], [0, unit, stream, 0]).random_raw(12)
    g = Stream((key0, key1), unit, stream)
    assert [g.raw() for _ in range(12)] == [int(x) for x in expected]


def test_counter_carry_matches_numpy():
    """The block counter carries into the next word exactly as numpy's does."""
    g = Stream((3, 4), 7, 0)
    g.ctr[0] = 2**64 - 2
    expected = philox([3, 4], [2**64 - 2, 7, 0, 0]).random_raw(12)
    assert [g.raw() for _ in range(12)] == [int(x) for x in expected]


def test_uniform_and_exponential_from_words():
    """uniform = top 53 bits / 2^53 (numpy's next_double); exponential = -log of (top 53 bits + 1) / 2^53."""
    words = philox([9, 9], [0, 1, 1, 0]).random_raw(2)
    g = Stream((9, 9), 1, 1)
    assert g.uniform() == (int(words[0]) >> 11) / 2.0**53
    assert g.exponential() == -np.log(((int(words[1]) >> 11) + 1) / 2.0**53)
    assert np.random.Generator(philox([9, 9], [0, 1, 1, 0])).random() \
        == (int(words[0]) >> 11) / 2.0**53
