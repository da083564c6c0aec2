"""Build the compiled extensions from ext/: the core, ctcsim._core, and the summary tally, ctcsim._tally.

The core's codes and channel tables are generated from the model's one table,
ctcsim/hazards.py, into ext/_model.pxi before Cython runs (a build product, not committed)."""
import runpy
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

here = Path(__file__).parent
pxi = runpy.run_path(str(here / "ctcsim" / "hazards.py"))["generate_pxi"]()
target = here / "ext" / "_model.pxi"
if not target.exists() or target.read_text() != pxi:  # unchanged: keep the timestamp, skip the rebuild
    target.write_text(pxi)

# Cython finds a module's own .pxd by its qualified name (ctcsim/_core.pxd), so the contract in
# ext/_core.pxd is found by compiling the module as "_core"; the built file is then placed in the
# package (the import machinery calls PyInit__core either way).
core = Extension(
    "_core",
    sources=["ext/_core.pyx"],
    include_dirs=["ext", np.get_include()],
    depends=["ext/_core.pxd", "ext/_model.pxi", "ext/philox.h"],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    # No -ffast-math and no FMA contraction: the core must match reference.py bit for bit.
    extra_compile_args=["-O3", "-ffp-contract=off", "-fno-inline-functions-called-once"],
)

tally = Extension("_tally", sources=["ext/_tally.pyx"], include_dirs=[np.get_include()],
                  define_macros=core.define_macros, extra_compile_args=["-O3", "-ffp-contract=off"])

extensions = cythonize([core, tally], language_level=3)
for ext in extensions:
    ext.name = f"ctcsim.{ext.name}"
setup(ext_modules=extensions)
