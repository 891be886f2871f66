"""Cold vs warm load of M4 Hourly+Weekly and M3, beside the plain-library way of reading them.

Each measurement runs in a fresh Python process (imports excluded from the timing), so in-process
caches cannot flatter the numbers. Machines here are noisy: read the ratios, not the seconds.

    cold  : empty workbench cache: copy from mirror, sha256, parse, validate, write parquet
    warm  : same call again: one parquet read per split
    peer  : what a notebook does without the workbench: pandas.read_csv + melt of the M4 CSVs,
            rdata.read_rda + a loop over the M3 series (no hash check, no validation, no cache)

Usage: WORKBENCH_DATA_MIRROR=/abs/path/to/shared/datasets python benchmarks/bench_load.py [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

WORKBENCH = """
import time
from workbench.data import load_panel
t = time.perf_counter()
{calls}
print(time.perf_counter() - t)
"""

M4_CALLS = "\n".join(f"load_panel('m4', '{s}', '{p}')" for s in ("Hourly", "Weekly") for p in ("train", "test"))
M3_CALLS = "\n".join(
    f"load_panel('m3', '{s}', '{p}')" for s in ("yearly", "quarterly", "monthly", "other") for p in ("train", "test")
)

PEER_M4 = """
import os, time, pandas as pd
root = os.environ['WORKBENCH_DATA_MIRROR'] + '/github/Mcompetitions/M4-methods/'
root += '6c1067e5a57161249b17289a565178dc7a3fb3ca/Dataset'
t = time.perf_counter()
for f in ('Hourly', 'Weekly'):
    for part in ('Train', 'Test'):
        df = pd.read_csv(f'{root}/{part}/{f}-{part.lower()}.csv')
        long = df.melt(id_vars='V1', var_name='ds', value_name='y').dropna()
print(time.perf_counter() - t)
"""

PEER_M3 = """
import os, time, warnings, pandas as pd, rdata
path = os.environ['WORKBENCH_DATA_MIRROR'] + '/github/cran/Mcomp/28f4e9babfe26607c9274c2c8d0e900a6aa61eec/data/M3.rda'
t = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    m3 = rdata.read_rda(path)['M3']
frames = [pd.DataFrame({'unique_id': k, 'y': s[part].to_numpy()}) for k, s in m3.items() for part in ('x', 'xx')]
long = pd.concat(frames)
print(time.perf_counter() - t)
"""


def _time(code: str, env: dict[str, str]) -> float:
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--output", type=Path, default=Path("results/benchmarks/load.json"))
    args = parser.parse_args()
    if not os.environ.get("WORKBENCH_DATA_MIRROR"):
        default = Path(__file__).resolve().parents[2] / "shared" / "datasets"
        os.environ["WORKBENCH_DATA_MIRROR"] = str(default)
    results = {}
    for label, calls, peer in (("M4 Hourly+Weekly", M4_CALLS, PEER_M4), ("M3 (all 4 subsets)", M3_CALLS, PEER_M3)):
        cold, warm, plain = [], [], []
        for _ in range(args.reps):
            with tempfile.TemporaryDirectory() as cache:
                env = {**os.environ, "WORKBENCH_CACHE": cache}
                cold.append(_time(WORKBENCH.format(calls=calls), env))
                warm.append(_time(WORKBENCH.format(calls=calls), env))
                plain.append(_time(peer, env))
        row = {
            "cold_s": statistics.median(cold),
            "warm_s": statistics.median(warm),
            "peer_s": statistics.median(plain),
        }
        row["cold/warm"] = row["cold_s"] / row["warm_s"]
        row["warm/peer"] = row["warm_s"] / row["peer_s"]
        row["cold/peer"] = row["cold_s"] / row["peer_s"]
        results[label] = row
    head = ["cold s", "warm s", "peer s", "cold/warm", "warm/peer", "cold/peer"]
    print(f"{'dataset':<20} " + " ".join(f"{h:>10}" for h in head))
    for label, r in results.items():
        print(
            f"{label:<20} {r['cold_s']:10.3f} {r['warm_s']:10.3f} {r['peer_s']:10.3f} "
            f"{r['cold/warm']:10.1f} {r['warm/peer']:10.2f} {r['cold/peer']:10.2f}"
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"reps": args.reps, "results": results}, indent=2))


if __name__ == "__main__":
    main()
