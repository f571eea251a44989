"""Peer of `benches/vae.rs`: training steps of the reference discrepancy-VAE in PyTorch (eager, CPU).

The model is uhlerlab/discrepancy_vae's CMVAE (`src/model.py`, `src/train.py`; method.md §7.1):
encoder G→128→(μ, softplus var), interventional encoder C→128→d with softmax(logits·temp),
shift intervention z + bc·(c·c_shift), causal layer u = z̃ (I − triu(G,1))⁻¹, decoder
d→128→G with LeakyReLU on the output; loss α·match + MSE + β·KL + λ·|triu(G,1)|, Adam 1e-3.
`match` is the centroid MSE (the paper's choice, gcrl's default) or the reference MMD. The
reference trains in float64; here float32 on both sides, so the comparison is of the same
arithmetic.

Usage: python vae_torch.py GENES TARGETS LATENT BATCHES REPEATS MATCHING THREADS [DEVICE]
THREADS pins the process to the first THREADS cores and sets torch's intra-op threads. DEVICE is
`cpu` (default) or `cuda:N`: the model, the cell pool and every batch live there. Prints one
line per repeat: `secs=… steps=… cells_per_s=…` (after one warm-up step).
"""
import os
import sys
import time

THREADS = int(sys.argv[7])
os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:THREADS]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

G, C, D, STEPS, REPEATS = (int(a) for a in sys.argv[1:6])
MATCHING = sys.argv[6]
DEVICE = torch.device(sys.argv[8] if len(sys.argv) > 8 else "cpu")
B, H = 32, 128
torch.set_num_threads(THREADS)
torch.manual_seed(0)


def normal_linear(fan_in, fan_out):
    layer = nn.Linear(fan_in, fan_out)
    nn.init.normal_(layer.weight, 0.0, 0.02)
    nn.init.zeros_(layer.bias)
    return layer


class CMVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.mean, self.var = normal_linear(G, H), normal_linear(H, D), normal_linear(H, D)
        self.c1, self.c2 = nn.Linear(C, H), nn.Linear(H, D)
        self.shift = nn.Parameter(torch.ones(C))
        self.dag = nn.Parameter(0.1 * torch.randn(D, D))
        self.dec1, self.dec2 = normal_linear(D, H), normal_linear(H, G)

    def forward(self, x, c, eps, temp):
        h = F.leaky_relu(self.enc(x), 0.2)
        mu, var = self.mean(h), F.softplus(self.var(h))
        z = mu + var.sqrt() * eps
        bc = torch.softmax(self.c2(F.leaky_relu(self.c1(c), 0.2)) * temp, dim=1)
        shifted = z + bc * (c @ self.shift)[:, None]
        b = torch.triu(self.dag, 1)
        inv = torch.linalg.inv(torch.eye(D, device=DEVICE) - b)
        out = F.leaky_relu(self.dec2(F.leaky_relu(self.dec1(torch.cat([z, shifted]) @ inv), 0.2)), 0.2)
        return out[:B], out[B:], mu, var, b


def mmd(x, y, sigma=1000.0, kernels=10):
    z = torch.cat([x, y])
    sq = (z * z).sum(1)
    dist = (sq[:, None] + sq[None, :] - 2 * z @ z.T).clamp_min(0.0)
    base = sigma / 2 ** (kernels // 2)
    k = sum(torch.exp(-dist / (base * 2 ** i)) for i in range(kernels))
    n = x.shape[0]
    return k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean()


def main():
    rng = np.random.default_rng(0)
    # The same kind of data as the Rust side: ~40 % non-zero log-normalised values.
    pool = 4 * B
    xs = torch.from_numpy(((rng.random((pool, G)) < 0.4) * rng.random((pool, G)) * 3).astype(np.float32))
    xs = xs.to(DEVICE)
    model = CMVAE().to(DEVICE)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
    c = torch.zeros(B, C, device=DEVICE)
    c[:, 0] = 1

    def step():
        idx = torch.from_numpy(rng.integers(0, pool, 2 * B)).to(DEVICE)
        x, y = xs[idx[:B]], xs[idx[B:]]
        eps = torch.randn(B, D, device=DEVICE)
        x_hat, y_hat, mu, var, b = model(x, c, eps, 1.0)
        match = ((y_hat.mean(0) - y.mean(0)) ** 2).mean() if MATCHING == "centroid" else mmd(y_hat, y)
        kl = -0.5 * torch.sum(1 + torch.log(var) - mu**2 - var) / B
        loss = match + F.mse_loss(x_hat, x) + kl + 1e-3 * b.abs().sum()
        opt.zero_grad()
        loss.backward()
        opt.step()

    def sync():
        if DEVICE.type == "cuda":
            torch.cuda.synchronize(DEVICE)

    step()
    sync()
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(STEPS):
            step()
        sync()
        secs = time.perf_counter() - start
        print(f"secs={secs} steps={STEPS} cells_per_s={STEPS * B / secs}", flush=True)
    print(f"version={torch.__version__}")


main()
