"""Fits scikit-learn's diagonal GaussianMixture (the reference), then draws the --history curves
of scripts/time-to-quality.sh and prints the table of medians. Usage: time_to_quality.py F OUT."""
import csv, gzip, statistics, sys, time
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.mixture import GaussianMixture

fashion, out = Path(sys.argv[1]), Path(sys.argv[2])


def images(name):
    with gzip.open(fashion / name) as f:
        data = np.frombuffer(f.read(), dtype=np.uint8, offset=16)
    return data.reshape(-1, 784).astype(np.float64) / 255


train, test = images("train-images-idx3-ubyte.gz"), images("t10k-images-idx3-ubyte.gz")
began = time.perf_counter()
gmm = GaussianMixture(50, covariance_type="diag", reg_covar=1e-3, random_state=0).fit(train)
sklearn_seconds = time.perf_counter() - began
sklearn_ll = gmm.score(test)
print(f"scikit-learn GaussianMixture diag K=50: test LL {sklearn_ll:.1f} in {sklearn_seconds:.1f} s")

runs = list(csv.DictReader(open(out / "runs.csv")))
print("\n| algorithm | l | test LL (median) | seconds (median) | seeds |")
print("|---|---|---|---|---|")
for key in sorted({(r["algorithm"], r["latent"]) for r in runs}, key=lambda k: (int(k[1]), k[0])):
    group = [r for r in runs if (r["algorithm"], r["latent"]) == key]
    print(f"| {key[0]} | {key[1]} | {statistics.median(float(r['test_ll']) for r in group):.1f} | "
          f"{statistics.median(float(r['seconds']) for r in group):.1f} | {len(group)} |")

# The criterion: the default run's curve passes scikit-learn's test LL within a tenth of
# its fit time (both measured in this run).
for path in sorted(out.glob("online-em-l*.csv")):
    passed = [float(r["seconds"]) for r in csv.DictReader(open(path)) if r["validation_ll"] and float(r["validation_ll"]) > sklearn_ll]
    verdict = f"first above it at {passed[0]:.2f} s" if passed else "never above it"
    print(f"{path.name}: {verdict}; a tenth of scikit-learn's fit is {sklearn_seconds / 10:.2f} s "
          f"({'met' if passed and passed[0] <= sklearn_seconds / 10 else 'not met'})")

latents = sorted({int(r["latent"]) for r in runs})
figure, axes = plt.subplots(1, len(latents), figsize=(6 * len(latents), 4.5), squeeze=False)
references = {10: 1068.7, 20: 1119.4}
for axis, l in zip(axes[0], latents):
    for algorithm, colour in [("online-em", "tab:blue"), ("sgd", "tab:orange"), ("em", "tab:green")]:
        path = out / f"{algorithm}-l{l}.csv"
        if not path.exists():
            continue
        rows = list(csv.DictReader(open(path)))
        axis.plot([float(r["seconds"]) for r in rows], [float(r["validation_ll"]) for r in rows], "o-", ms=3,
                  color=colour, label=f"mfa train --algorithm {algorithm}")
    axis.axhline(sklearn_ll, color="grey", ls="--", label=f"scikit-learn diagonal GMM ({sklearn_ll:.1f}, {sklearn_seconds:.0f} s)")
    if l in references:
        axis.axhline(references[l], color="black", ls=":", label=f"numpy float64 EM ({references[l]})")
    axis.set_xlabel("seconds since the process started")
    axis.set_ylabel("test log-likelihood (nats per image)")
    axis.set_title(f"Fashion-MNIST, K = 50, l = {l}")
    axis.set_ylim(sklearn_ll - 40, (references.get(l) or 1100) + 15)
    axis.legend(loc="lower right", fontsize=8)
figure.tight_layout()
figure.savefig(out / "time-to-quality.png", dpi=110)
print(f"\nwrote {out / 'time-to-quality.png'}")
