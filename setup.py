"""Build the one compiled extension, ctcsim._core, from ext/."""
import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

core = Extension(
    "ctcsim._core",
    sources=["ext/_core.pyx"],
    include_dirs=["ext", np.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    # No -ffast-math and no FMA contraction: the core must match reference.py bit for bit.
    extra_compile_args=["-O3", "-ffp-contract=off", "-fno-inline-functions-called-once"],
)

setup(ext_modules=cythonize([core], language_level=3))
