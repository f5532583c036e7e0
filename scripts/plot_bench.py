"""Draws `mfa bench --csv` as a PNG: the step's share of the backend's GEMM rate (ratio) per
backend, algorithm and K. Usage: plot_bench.py BENCH.csv OUT.png"""
import csv, sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

rows = list(csv.DictReader(open(sys.argv[1])))
series = sorted({(r["backend"], r["algorithm"], r["batch"]) for r in rows})
figure, axis = plt.subplots(figsize=(6.5, 4))
for backend, algorithm, batch in series:
    points = sorted((int(r["K"]), float(r["ratio"])) for r in rows if (r["backend"], r["algorithm"], r["batch"]) == (backend, algorithm, batch))
    axis.plot([k for k, _ in points], [ratio for _, ratio in points], "o-", label=f"{backend}, {algorithm}, batch {batch}")
first = rows[0]
axis.set_xscale("log")
axis.set_ylim(0, 1.05)
axis.axhline(0.7, color="grey", ls=":", label="0.7")
axis.set_xlabel("K (components)")
axis.set_ylabel("training GFLOP/s ÷ GEMM GFLOP/s")
axis.set_title(f"training step vs the backend's GEMM (d = {first['d']}, l = {first['l']})")
axis.legend(fontsize=8)
figure.tight_layout()
figure.savefig(sys.argv[2], dpi=110)
print(f"wrote {sys.argv[2]}")
