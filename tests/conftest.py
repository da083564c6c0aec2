"""Shared scenarios for the tests: small inline anatomies that exercise every mechanism."""
import os

# The exact solver's dense solves are small; BLAS threads on a shared 2-core machine cost
# about a third of their CPU time (measured on tests/test_sim_vs_exact.py).  Set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from ctcsim import scenario as sc  # noqa: E402

# The longest files first (tests/README.md, "Keeping the suite fast").  xdist's loadfile hands
# out whole files in collection order, each to the next free worker, so a long file collected
# last (alphabetically: report_*, studies_*, tropism) runs alone at the end; longest first
# keeps both workers busy to the end.  test_report_study.py before test_report_browser.py:
# it makes the shared sweep_report at once, the browser's other reports meanwhile.  An order
# gone stale costs only time.
LONGEST_FIRST = ("test_tropism.py", "test_report_study.py", "test_report_browser.py", "test_studies_sensitivity.py",
                 "test_studies_executor.py", "test_studies_calibrate.py", "test_studies_sweep.py", "test_fuzz.py",
                 "test_sim_vs_exact.py", "test_post_arrest.py", "test_exact.py", "test_run_limits.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the others keep their order


# A small circulation with every mechanism: Erlang stages, a branching arterial pool,
# beds with trapping and adhesion, shielding, shear, NK and Weibull anoikis, clusters,
# phenotypes and log-normal diameters.
RICH = """
name = "rich"
t_max_s = 400.0
anatomy.name = "mini"
[[anatomy.compartments]]
name = "veins"
kind = "pool"
transit_s = 4.0
stages = 2
shear_dyn_cm2 = 3.0
platelet_rel = 1.0
[[anatomy.compartments]]
name = "lung"
kind = "bed"
transit_s = 1.5
shear_dyn_cm2 = 20.0
nk_rel = 2.0
capillary_diameter_um = 9.0
[[anatomy.compartments]]
name = "arteries"
kind = "pool"
transit_s = 3.0
stages = 3
shear_dyn_cm2 = 12.0
[[anatomy.compartments]]
name = "liver"
kind = "bed"
transit_s = 5.0
stages = 2
shear_dyn_cm2 = 10.0
nk_rel = 3.0
platelet_rel = 0.5
capillary_diameter_um = 12.0
[[anatomy.compartments]]
name = "marrow"
kind = "bed"
transit_s = 8.0
shear_dyn_cm2 = 2.0
capillary_diameter_um = 30.0
[[anatomy.edges]]
from = "veins"
to = "lung"
fraction = 1.0
[[anatomy.edges]]
from = "lung"
to = "arteries"
fraction = 1.0
[[anatomy.edges]]
from = "arteries"
to = "liver"
fraction = 0.3
[[anatomy.edges]]
from = "arteries"
to = "marrow"
fraction = 0.2
[[anatomy.edges]]
from = "arteries"
to = "veins"
fraction = 0.5
[[anatomy.edges]]
from = "liver"
to = "veins"
fraction = 1.0
[[anatomy.edges]]
from = "marrow"
to = "veins"
fraction = 1.0

[primary]
name = "test"
entry = { veins = 0.7, arteries = 0.3 }
diameter_median_um = 8.0
diameter_sigma_log = 0.3
cluster_size_probs = [0.8, 0.15, 0.05]
phenotype_mix = [0.5, 0.3, 0.2]

[biology]
k_shear_per_s = 0.002
k_nk_per_s = 0.004
anoikis_eta_s = 300.0
anoikis_beta = 1.7
k_on_per_s = 0.05
k_off_per_s = 0.03
k_adh_per_s = 0.02
trap_ratio50 = 1.0
trap_width = 0.2
trap_max = 0.8

[adhesion]
liver = 2.0
"""


# Post-arrest rates on the scale of RICH's t_max (400 s), so that every post-arrest
# outcome happens: capillary death, extravasation, dormancy, waking, colonies that die
# out or reach micrometastasis, regression and growth to macrometastasis.
FAST = dict(k_cap_nk_per_s=0.01, k_extravasation_per_s=0.03, p_dormant=0.4, k_wake_per_s=0.01,
            k_dormant_death_per_s=0.005, birth_per_s=0.2, death_per_s=0.12, micro_cells=5,
            k_regression_per_s=0.01, macro_cells=50.0)


@pytest.fixture
def rich():
    return sc.loads(RICH, "rich.toml")


def assert_same_table(a, b):
    """Tables equal value for value, NaN equal to NaN (pyarrow's equals says NaN != NaN)."""
    import pandas.testing

    assert a.schema == b.schema
    pandas.testing.assert_frame_equal(a.to_pandas(), b.to_pandas(), check_exact=True)


# One pool with two hazards (tests/test_studies_sensitivity.py, tests/test_report_study.py):
# P(died_shear) = a / (a + b), and p_nk does nothing without a shield.  Exact outputs cost milliseconds.
TWO_HAZARDS = """
name = "two_hazards"
anatomy.name = "one_pool"
[[anatomy.compartments]]
name = "blood"
kind = "pool"
transit_s = 10.0
shear_dyn_cm2 = 15.0
[[anatomy.edges]]
from = "blood"
to = "blood"
fraction = 1.0
[primary]
name = "cells"
entry = { blood = 1.0 }
diameter_median_um = 10.0
[biology]
anoikis_on = false
k_on_per_s = 0.0
"""


# A sweep of breast_antiplatelet (two parameters on a 3 x 3 grid, two arms) and its report,
# made once: test_report_study.py checks the page against table.parquet, test_report_browser.py
# renders it in Chromium.  Drawing its response figures is about 12 s of CPU.
SWEEP_K_ON, SWEEP_DIAMETER = "biology.k_on_per_s", "primary.diameter_median_um"
SWEEP = ["sweep", "--scenario", "breast_antiplatelet", "-p", f"{SWEEP_K_ON}=1e-4:1e-2:log", "-p",
         f"{SWEEP_DIAMETER}=11:14", "--points", "3", "-n", "600", "--seed", "3", "-q"]


@pytest.fixture(scope="session")
def sweep_report(tmp_path_factory):
    """The sweep's directory, with report.html written by `ctcsim report`.  Each xdist worker
    has a session of its own, so the first to ask makes it in the directory the workers share
    (the parent of their base temporary directories) and the others wait on the lock, then read."""
    import fcntl

    from ctcsim.cli import main

    shared = tmp_path_factory.getbasetemp()
    shared = shared.parent if os.environ.get("PYTEST_XDIST_WORKER") else shared
    out = shared / "sweep_report"
    with open(shared / "sweep_report.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "report.html").exists():
            r = CliRunner().invoke(main, SWEEP + ["-o", str(out)])
            assert r.exit_code == 0, r.output
            r = CliRunner().invoke(main, ["report", str(out)])
            assert r.exit_code == 0, r.output
            assert r.output.strip() == str(out / "report.html")
    return out
