"""Peer of benches/ae.rs: one epoch of the gCRL autoencoder (TF -> 64 -> d, quadratic decoder
-> genes, Adam 1e-3, batch 1024, MSE) in PyTorch or JAX, on the same synthetic data shape.

Usage: python ae_epoch.py torch|jax CELLS TFS GENES LATENT THREADS REPEATS [DEVICE]
DEVICE is `cpu` (default) or `cuda:N` (torch only: the data are copied to the GPU once, and
every batch is indexed there). Prints one line per repeat: secs=<epoch seconds> cells=<cells>.
"""
import os
import sys
import time

framework, cells, tfs, genes, latent, threads, repeats = sys.argv[1], *map(int, sys.argv[2:8])
device = sys.argv[8] if len(sys.argv) > 8 else "cpu"
if framework == "jax" and device != "cpu":
    sys.exit(f"the jax peer runs on the CPU only, not {device}")
os.environ["OMP_NUM_THREADS"] = str(threads)
os.environ["XLA_FLAGS"] = (
    f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} intra_op_parallelism_threads={threads}"
)
import numpy as np  # noqa: E402

rng = np.random.default_rng(0)
factors = rng.standard_normal((cells, latent)).astype(np.float32)
x = (factors @ rng.standard_normal((latent, tfs)) + 0.1 * rng.standard_normal((cells, tfs))).astype(np.float32)
pairs = [(i, j) for i in range(latent) for j in range(i, latent)]
phi = np.concatenate([factors, np.stack([factors[:, i] * factors[:, j] for i, j in pairs], 1)], 1)
y = (phi @ rng.standard_normal((phi.shape[1], genes)) * 0.1).astype(np.float32)
batch = 1024


def batches(epoch):
    order = np.random.default_rng(epoch).permutation(cells)
    for s in range(0, cells, batch):
        idx = order[s : s + batch]
        yield x[idx], y[idx]


if framework == "torch":
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    iu = torch.triu_indices(latent, latent, device=device)
    x_dev, y_dev = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)

    class Ae(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.h = torch.nn.Linear(tfs, 64)
            self.z = torch.nn.Linear(64, latent)
            self.dec = torch.nn.Linear(latent + len(pairs), genes)

        def forward(self, xb):
            z = self.z(torch.relu(self.h(xb)))
            outer = z.unsqueeze(2) * z.unsqueeze(1)
            return self.dec(torch.cat([z, outer[:, iu[0], iu[1]]], 1))

    model = Ae().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)

    def epoch(e):
        order = torch.from_numpy(np.random.default_rng(e).permutation(cells)).to(device)
        for s in range(0, cells, batch):
            idx = order[s : s + batch]
            xb, yb = x_dev[idx], y_dev[idx]
            opt.zero_grad()
            loss = ((model(xb) - yb) ** 2).mean()
            loss.backward()
            opt.step()
        return float(loss.detach())  # waits for the GPU's queue too

else:
    import jax
    import jax.numpy as jnp
    import optax

    iu = np.triu_indices(latent)

    def init(key):
        def lin(k, a, b):
            bound = 1 / np.sqrt(a)
            k1, k2 = jax.random.split(k)
            return jax.random.uniform(k1, (a, b), minval=-bound, maxval=bound), jax.random.uniform(
                k2, (b,), minval=-bound, maxval=bound
            )

        k = jax.random.split(key, 3)
        return [lin(k[0], tfs, 64), lin(k[1], 64, latent), lin(k[2], latent + len(pairs), genes)]

    def forward(p, xb):
        z = jax.nn.relu(xb @ p[0][0] + p[0][1]) @ p[1][0] + p[1][1]
        outer = z[:, :, None] * z[:, None, :]
        return jnp.concatenate([z, outer[:, iu[0], iu[1]]], 1) @ p[2][0] + p[2][1]

    params = init(jax.random.PRNGKey(0))
    opt = optax.adam(1e-3, eps=1e-8)
    state = opt.init(params)

    @jax.jit
    def step(p, s, xb, yb):
        loss, g = jax.value_and_grad(lambda q: jnp.mean((forward(q, xb) - yb) ** 2))(p)
        u, s = opt.update(g, s)
        return optax.apply_updates(p, u), s, loss

    def epoch(e):
        global params, state
        for xb, yb in batches(e):
            params, state, loss = step(params, state, xb, yb)
        return float(loss)


epoch(0)  # warm-up: JIT compilation, allocator
for r in range(1, repeats + 1):
    t = time.perf_counter()
    epoch(r)
    print(f"secs={time.perf_counter() - t} cells={cells}", flush=True)
