"""The mouse experiments' targets, as simulated, and the sensitivity of each to its parameter.

For every target of ctcsim/experiments.py: the simulated value with the built-in scenario,
and with the target's calibration parameter times 0.8 and 1.25 (for a probability p, 1 - p
times them), as the elasticity d log(target) / d log(parameter) (central difference on the
log scale).

    python bench/calibration.py [--units 1000000] [--seed 1]
"""
import argparse
import dataclasses
import math

from ctcsim import experiments
from ctcsim import scenario as sc
from ctcsim.runner import simulate


def scaled(s, parameter, factor):
    if parameter.startswith("soil."):
        _, organ, key = parameter.split(".")
        soil = {**s.soil, organ: {**s.soil.get(organ, {}), key: s.soil.get(organ, {}).get(key, 1.0) * factor}}
        return dataclasses.replace(s, soil=soil)
    b = s.biology
    value = getattr(b, parameter)
    if parameter.startswith("p_"):  # a probability: scale its complement, so it stays in [0, 1]
        value = 1.0 - (1.0 - value) * factor
    else:
        value *= factor
    return dataclasses.replace(s, biology=dataclasses.replace(b, **{parameter: value}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    print(f"{'target':<36} {'published':>9} {'simulated':>9}  {'parameter':<24} {'elasticity':>10}")
    for name in dict.fromkeys(t.scenario for t in experiments.TARGETS):
        s = sc.load(name)
        base = experiments.measure(simulate(s, args.units, seed=args.seed).fates, name)
        for t in (t for t in experiments.TARGETS if t.scenario == name):
            lo = experiments.measure(simulate(scaled(s, t.parameter, 0.8), args.units, seed=args.seed)
                                     .fates, name)[t.name]
            hi = experiments.measure(simulate(scaled(s, t.parameter, 1.25), args.units, seed=args.seed)
                                     .fates, name)[t.name]
            e = (math.log(hi) - math.log(lo)) / (math.log(1.25) - math.log(0.8)) if lo > 0 and hi > 0 else float("nan")
            ok = "ok" if t.low <= base[t.name] <= t.high else "OUT"
            print(f"{name + ': ' + t.name:<36} {t.published:>9.4g} {base[t.name]:>9.4g}  {t.parameter:<24} {e:>10.2f} {ok}")


if __name__ == "__main__":
    main()
