"""Start-up time of the command line: `ctcsim --version` and `ctcsim --help`, each as its own
process, best and median of 7 (the best is the code's cost; the median shows the machine's load).
Goal (issue 12): under 0.5 s.

    python bench/bench_cli.py
"""
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL_S = 0.5


def main():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    for args in (["--version"], ["--help"]):
        times = []
        for _ in range(7):
            t0 = time.monotonic()
            subprocess.run([sys.executable, "-m", "ctcsim", *args], env=env, cwd=REPO, check=True,
                           stdout=subprocess.DEVNULL)
            times.append(time.monotonic() - t0)
        best = min(times)
        print(f"| ctcsim {' '.join(args)} | best {best:.2f} s | median {statistics.median(times):.2f} s | "
              f"goal < {GOAL_S} s: {'met' if best < GOAL_S else 'NOT met'} | load {os.getloadavg()[0]:.1f} |")


if __name__ == "__main__":
    main()
