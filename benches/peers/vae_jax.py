"""Peer of `benches/vae.rs`: training steps of the reference discrepancy-VAE in JAX on CPU.

The model follows uhlerlab/discrepancy_vae (`src/model.py`, `src/train.py`; method.md §7.1):
encoder G→128→(μ, softplus var), interventional encoder C→128→d with softmax(logits·temp),
shift intervention z + bc·(c·c_shift), causal layer u = z̃ (I − triu(G,1))⁻¹, decoder
d→128→G with LeakyReLU on the output; loss α·match + MSE + β·KL + λ·|triu(G,1)|, Adam 1e-3.
`match` is the centroid MSE (the paper's choice, as in gcrl's default) or the reference MMD.
The PyTorch original could not be installed here (the PyPI wheel needs the CUDA libraries and
download.pytorch.org is unreachable), so this JAX port stands in for it, as the issue allows.

Usage: python vae_jax.py GENES TARGETS LATENT BATCHES REPEATS MATCHING THREADS
THREADS pins the process to the first THREADS cores before XLA starts (XLA sizes its pool from
the affinity mask), so both sides run on the same cores. Prints one line per repeat: `secs=… steps=… cells_per_s=…` (the jit compile is excluded).
"""
import os
import sys
import time

os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[: int(sys.argv[7])]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

G, C, D, STEPS, REPEATS = (int(a) for a in sys.argv[1:6])
MATCHING = sys.argv[6]
B, H = 32, 128


def linear(key, fan_in, fan_out, sd=None):
    if sd is None:  # PyTorch default
        bound = 1.0 / np.sqrt(fan_in)
        k1, k2 = jax.random.split(key)
        return (jax.random.uniform(k1, (fan_in, fan_out), minval=-bound, maxval=bound),
                jax.random.uniform(k2, (fan_out,), minval=-bound, maxval=bound))
    return sd * jax.random.normal(key, (fan_in, fan_out)), jnp.zeros((fan_out,))


def init(key):
    ks = jax.random.split(key, 8)
    return {
        "enc": linear(ks[0], G, H, 0.02), "mean": linear(ks[1], H, D, 0.02), "var": linear(ks[2], H, D, 0.02),
        "c1": linear(ks[3], C, H), "c2": linear(ks[4], H, D),
        "shift": jnp.ones((C,)), "dag": 0.1 * jax.random.normal(ks[5], (D, D)),
        "dec1": linear(ks[6], D, H, 0.02), "dec2": linear(ks[7], H, G, 0.02),
    }


def lrelu(x):
    return jnp.where(x > 0, x, 0.2 * x)


def dense(p, x):
    return x @ p[0] + p[1]


def mmd(x, y, sigma=1000.0, kernels=10):
    z = jnp.concatenate([x, y])
    sq = jnp.sum(z * z, 1)
    dist = jnp.maximum(sq[:, None] + sq[None, :] - 2 * z @ z.T, 0.0)
    base = sigma / 2 ** (kernels // 2)
    k = sum(jnp.exp(-dist / (base * 2 ** i)) for i in range(kernels))
    b = x.shape[0]
    return k[:b, :b].mean() + k[b:, b:].mean() - 2 * k[:b, b:].mean()


def loss(params, x, y, c, eps, alpha, beta, temp):
    h = lrelu(dense(params["enc"], x))
    mu, var = dense(params["mean"], h), jax.nn.softplus(dense(params["var"], h))
    z = mu + jnp.sqrt(var) * eps
    bc = jax.nn.softmax(dense(params["c2"], lrelu(dense(params["c1"], c))) * temp, axis=1)
    s = c @ params["shift"]
    shifted = z + bc * s[:, None]
    b = jnp.triu(params["dag"], 1)
    inv = jnp.linalg.inv(jnp.eye(D) - b)
    out = lrelu(dense(params["dec2"], lrelu(dense(params["dec1"], jnp.concatenate([z, shifted]) @ inv))))
    x_hat, y_hat = out[:B], out[B:]
    match = jnp.mean((y_hat.mean(0) - y.mean(0)) ** 2) if MATCHING == "centroid" else mmd(y_hat, y)
    kl = -0.5 * jnp.sum(1 + jnp.log(var) - mu ** 2 - var) / B
    return alpha * match + jnp.mean((x_hat - x) ** 2) + beta * kl + 1e-3 * jnp.sum(jnp.abs(b))


def adam_init(params):
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    return zeros, zeros, 0


@jax.jit
def step(params, m, v, t, x, y, c, eps):
    grads = jax.grad(loss)(params, x, y, c, eps, 1.0, 1.0, 1.0)
    t = t + 1
    m = jax.tree_util.tree_map(lambda m, g: 0.9 * m + 0.1 * g, m, grads)
    v = jax.tree_util.tree_map(lambda v, g: 0.999 * v + 0.001 * g * g, v, grads)
    def upd(p, m, v):
        return p - 1e-3 * (m / (1 - 0.9 ** t)) / (jnp.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    return jax.tree_util.tree_map(upd, params, m, v), m, v, t


def main():
    rng = np.random.default_rng(0)
    # The same kind of data as the Rust side: ~40 % non-zero log-normalised values.
    pool = 4 * B
    xs = (rng.random((pool, G)) < 0.4) * rng.random((pool, G)).astype(np.float32) * 3
    params = init(jax.random.PRNGKey(0))
    m, v, t = adam_init(params)
    c = np.zeros((B, C), np.float32)
    c[:, 0] = 1
    def batch(i):
        idx = rng.integers(0, pool, 2 * B)
        return (xs[idx[:B]].astype(np.float32), xs[idx[B:]].astype(np.float32), c,
                rng.standard_normal((B, D)).astype(np.float32))
    params, m, v, t = step(params, m, v, t, *batch(0))  # compile
    jax.block_until_ready(params)
    for _ in range(REPEATS):
        start = time.perf_counter()
        for i in range(STEPS):
            params, m, v, t = step(params, m, v, t, *batch(i))
        jax.block_until_ready(params)
        secs = time.perf_counter() - start
        print(f"secs={secs} steps={STEPS} cells_per_s={STEPS * B / secs}", flush=True)
    print(f"version={jax.__version__}")


main()
