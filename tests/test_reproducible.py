"""Same seed, same output: whatever the chunk size, thread count or arm order."""
import pytest

from ctcsim import scenario as sc
from ctcsim.runner import seed_key, simulate
from conftest import assert_same_table


@pytest.mark.parametrize("threads,chunk", [(1, 7), (2, 64), (2, 1000), (1, 5000)])
def test_output_independent_of_chunks_and_threads(rich, threads, chunk):
    base = simulate(rich, 3000, seed=2**100 + 5, events=True, threads=1, chunk_size=3000)
    other = simulate(rich, 3000, seed=2**100 + 5, events=True, threads=threads, chunk_size=chunk)
    assert_same_table(other.fates, base.fates)
    assert_same_table(other.events, base.events)


def test_different_seeds_differ(rich):
    a = simulate(rich, 200, seed=1).fates.column("fate_time_s")
    b = simulate(rich, 200, seed=2).fates.column("fate_time_s")
    assert not a.equals(b)


def test_run_without_seed_draws_and_returns_128_bit_seed(rich):
    res = simulate(rich, 10)
    assert 0 <= res.seed < 2**128
    assert_same_table(simulate(rich, 10, seed=res.seed).fates, res.fates)


def test_seed_must_fit_128_bits():
    assert seed_key(2**64 + 3) == (3, 1)
    with pytest.raises(ValueError, match="seed"):
        seed_key(2**128)
    with pytest.raises(ValueError, match="seed"):
        seed_key(-1)


def test_arms_share_entry_draws(rich):
    """Common random numbers: every arm gives unit u the same entry attributes."""
    s = sc.from_dict({**rich.to_dict(), "arms": [{"name": "control"},
                                                {"name": "anti_platelet", "multipliers": {"k_on_per_s": 0.1}}]})
    f = simulate(s, 500, seed=3).fates.to_pandas()
    a, b = (f[f.arm == name].reset_index(drop=True) for name in ("control", "anti_platelet"))
    for col in ("cluster_size", "phenotype", "diameter_um", "entry_compartment", "entry_time_s"):
        assert (a[col] == b[col]).all(), col
    assert (a.time_shielded_s != b.time_shielded_s).any()
