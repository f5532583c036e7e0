#!/usr/bin/env python3
"""DGMM data drawn with numpy alone, not with `mfa simulate` (written by an outside review that had
not read the code): layer by layer from the deepest latent, per-layer Dirichlet weights, layer-1
noise a given fraction of the mean signal variance, then every column put in its own units
(scales log-uniform in [1, --scale], offsets uniform in ±--offset). Writes NAME.npy (float64),
NAME_labels.npy (true paths, layer 1 most significant) and NAME.json (the true model's mean
log-likelihood per sample, exact, and the options).

    python3 scripts/dgmm_numpy_draw.py --name out/F --d 12 -c 2,3,2 -l 6,3,2 --noise 1e-7 --scale 10 --offset 2000 --seed 6
"""
import argparse
import json

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("--name", required=True)
p.add_argument("--N", type=int, default=3000)
p.add_argument("--d", type=int, default=15)
p.add_argument("-c", default="3,3,2")
p.add_argument("-l", default="6,3,2")
p.add_argument("--noise", type=float, default=1e-3, help="layer-1 noise variance over the mean signal variance")
p.add_argument("--scale", type=float, default=1e4)
p.add_argument("--offset", type=float, default=3000)
p.add_argument("--sep", type=float, default=3.0)
p.add_argument("--deepnoise", type=float, default=0.3)
p.add_argument("--seed", type=int, default=0)
a = p.parse_args()
rng = np.random.default_rng(a.seed)
K = [int(x) for x in a.c.split(",")]
dims = [a.d] + [int(x) for x in a.l.split(",")]
L = len(K)
layers = []
for i in range(L):
    out, inner = dims[i], dims[i + 1]
    layers.append(dict(w=rng.dirichlet(np.ones(K[i]) * 5), eta=rng.normal(0, a.sep, (K[i], out)),
                       lam=rng.normal(0, 1 / np.sqrt(inner), (K[i], out, inner)),
                       psi=rng.uniform(0.5, 1.5, (K[i], out)) * a.deepnoise))
paths = np.array(np.meshgrid(*[np.arange(k) for k in K], indexing="ij")).reshape(L, -1).T


def path_moments(path):
    """Mean and covariance of a path without layer 1's noise."""
    mu, S = np.zeros(dims[L]), np.eye(dims[L])
    for i in reversed(range(L)):
        g, ly = path[i], layers[i]
        mu = ly["eta"][g] + ly["lam"][g] @ mu
        S = ly["lam"][g] @ S @ ly["lam"][g].T + (np.diag(ly["psi"][g]) if i > 0 else 0)
    return mu, S


signal = np.mean([np.trace(path_moments(q)[1]) / a.d for q in paths])
layers[0]["psi"] = rng.uniform(0.5, 1.5, (K[0], a.d)) * a.noise * signal
labels = np.stack([rng.choice(K[i], a.N, p=layers[i]["w"]) for i in range(L)], 1)
z = rng.normal(size=(a.N, dims[L]))
for i in reversed(range(L)):
    ly, g = layers[i], labels[:, i]
    z = ly["eta"][g] + np.einsum("noi,ni->no", ly["lam"][g], z) + rng.normal(size=(a.N, dims[i])) * np.sqrt(ly["psi"][g])
path = np.zeros(a.N, dtype=np.int64)
for i in range(L):
    path = path * K[i] + labels[:, i]
c = np.exp(rng.uniform(0, np.log(a.scale), a.d))
o = rng.uniform(-a.offset, a.offset, a.d)
X = o + c * z
joint = []
for q in paths:
    mu, S = path_moments(q)
    S = (S + np.diag(layers[0]["psi"][q[0]])) * np.outer(c, c)
    root = np.linalg.cholesky(S)
    r = np.linalg.solve(root, (X - (o + c * mu)).T)
    joint.append(-0.5 * np.sum(r**2, 0) - np.log(np.diag(root)).sum() - 0.5 * a.d * np.log(2 * np.pi)
                 + sum(np.log(layers[i]["w"][q[i]]) for i in range(L)))
joint = np.array(joint).T
top = joint.max(1, keepdims=True)
true_ll = float(np.mean(top[:, 0] + np.log(np.exp(joint - top).sum(1))))
np.save(f"{a.name}.npy", X)
np.save(f"{a.name}_labels.npy", path)
json.dump(dict(vars(a), true_ll=true_ll), open(f"{a.name}.json", "w"))
print(json.dumps(dict(name=a.name, true_ll=true_ll)))
