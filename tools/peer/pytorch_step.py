#!/usr/bin/python3
"""Time mgpt's training step in PyTorch: the peer comparison of issues #3/#4.

The model and step are those of docs/model.md (token + learned position embeddings,
weightless RMSNorm, causal multi-head attention with separate Wq/Wk/Wv, squared-ReLU MLP
with 4C hidden units, no biases, no weight tying, lm_head without a final norm, mean
cross-entropy, Adam with betas (0.9, 0.95) and eps 1e-8), written the way a PyTorch user
would write it. A step is forward + backward + Adam on a batch of B rows of T random
token ids with targets everywhere (every position real work, like mgpt-bench's _B
configs). ms/step is the median over the repeats, as mgpt-bench reports it.

Run with the system python (Debian 12: apt-get install python3-torch libopenblas0-openmp),
under the benchmark lock. Debian's torch calls whichever libblas.so.3 is installed; pick
OpenBLAS's OpenMP build (its default pthread build fights torch's OpenMP threads for the
cores: 2 threads run slower than 1) and, on CPUs this OpenBLAS 0.3.21 does not know (it
then uses its SSE3 "Prescott" kernels), its AVX-512 kernels; the first output line says
which BLAS and kernels ran:

    OPENBLAS_CORETYPE=SkylakeX LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \
    flock /tmp/mgpt-bench.lock /usr/bin/python3 tools/peer/pytorch_step.py \
        --config e128_L4_b16_B32,e256_L6_b32_B32 --threads 1

GFLOP/s with mgpt's FLOP count: take FLOP/step from mgpt-bench (GFLOP/s x s/step of the
same config) and divide by this script's s/step.
"""
import argparse
import ctypes
import os
import re
import statistics
import sys
import time

# OpenBLAS (pthread build) starts its worker threads when torch loads it. Start none yet:
# they start in main, after denormals are set to flush, so that they inherit it.
os.environ["OPENBLAS_NUM_THREADS"] = "1"
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

VOCAB = 27      # BOS + a..z: the vocabulary mgpt-bench trains these configs on
N_HEAD = 4      # mgpt-bench: every config has n_head 4


def parse_args():
    p = argparse.ArgumentParser(
        description="Time mgpt's training step (forward, backward, Adam) in PyTorch.")
    p.add_argument("-c", "--config", action="append", required=True,
                   help="e{C}_L{layers}_b{T}[_B{docs}]; repeatable or comma-separated")
    p.add_argument("-t", "--threads", type=int, default=1,
                   help="threads for torch and the BLAS (default 1)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    p.add_argument("--repeats", type=int, default=5,
                   help="timed runs; ms/step is their median (default 5)")
    p.add_argument("--steps", type=int, default=0,
                   help="steps per timed run (default: enough for --min-time)")
    p.add_argument("--min-time", type=float, default=0.25,
                   help="seconds per timed run with automatic steps (default 0.25)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--autocast-bf16", action="store_true",
                   help="run forward and loss under torch.autocast('cpu', bfloat16) (bf16 "
                        "matmuls through oneDNN, fp32 master weights and Adam): the peer of "
                        "mgpt --precision=bf16")
    p.add_argument("--keep-denormals", action="store_true",
                   help="compute with denormal floats (torch's default) instead of flushing "
                        "them to zero as mgpt does")
    a = p.parse_args()
    a.config = [c for arg in a.config for c in arg.split(",") if c]
    for c in a.config:
        if not re.fullmatch(r"e\d+_L\d+_b\d+(_B\d+)?", c):
            p.error(f"bad config name {c!r} (want e{{C}}_L{{layers}}_b{{T}}[_B{{docs}}])")
    return a


def rmsnorm(x):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5)


class Block(nn.Module):
    def __init__(self, C):
        super().__init__()
        self.wq = nn.Linear(C, C, bias=False)
        self.wk = nn.Linear(C, C, bias=False)
        self.wv = nn.Linear(C, C, bias=False)
        self.wo = nn.Linear(C, C, bias=False)
        self.fc1 = nn.Linear(C, 4 * C, bias=False)
        self.fc2 = nn.Linear(4 * C, C, bias=False)

    def forward(self, x, mask):
        B, T, C = x.shape
        hd = C // N_HEAD
        h = rmsnorm(x)
        # [B, T, C] -> [B, H, T, hd]
        q, k, v = (w(h).view(B, T, N_HEAD, hd).transpose(1, 2)
                   for w in (self.wq, self.wk, self.wv))
        att = (q @ k.transpose(-2, -1)) * hd ** -0.5
        att = att.masked_fill(mask[:T, :T], float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.wo(y)
        return x + self.fc2(F.relu(self.fc1(rmsnorm(x))).square())


class GPT(nn.Module):
    def __init__(self, C, L, T):
        super().__init__()
        self.wte = nn.Embedding(VOCAB, C)
        self.wpe = nn.Embedding(T, C)
        self.blocks = nn.ModuleList(Block(C) for _ in range(L))
        self.lm_head = nn.Linear(C, VOCAB, bias=False)
        # True above the diagonal: the future a position may not see
        self.register_buffer("mask", torch.ones(T, T, dtype=torch.bool).triu(1))
        for w in self.parameters():
            nn.init.normal_(w, 0.0, 0.02)
        for b in self.blocks:   # the spec starts the residual projections at 0
            nn.init.zeros_(b.wo.weight)
            nn.init.zeros_(b.fc2.weight)

    def forward(self, tok, targets):
        T = tok.shape[1]
        x = rmsnorm(self.wte(tok) + self.wpe(torch.arange(T)))
        for b in self.blocks:
            x = b(x, self.mask)
        logits = self.lm_head(x)
        return F.cross_entropy(logits.view(-1, VOCAB), targets.view(-1))


def measure(config):
    C, L, T, B = (int(n) for n in re.fullmatch(
        r"e(\d+)_L(\d+)_b(\d+)(?:_B(\d+))?", config).groups(default="1"))
    torch.manual_seed(args.seed)
    model = GPT(C, L, T)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.9, 0.95), eps=1e-8)
    # Eight random batches in turn (the values do not change the work): ids 1..V-1 are
    # characters, 0 is BOS, which starts every row as it starts every document.
    tok = torch.randint(1, VOCAB, (8, B, T))
    tok[:, :, 0] = 0
    targets = torch.randint(1, VOCAB, (8, B, T))
    loss = torch.zeros(())

    def steps(n):
        nonlocal loss
        for i in range(n):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.autocast_bf16):
                loss = model(tok[i % 8], targets[i % 8])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    steps(args.warmup)
    n = args.steps
    if n == 0:   # calibrate: double until a run is long enough to time
        k = 1
        while True:
            t0 = time.perf_counter()
            steps(k)
            dt = time.perf_counter() - t0
            if dt >= min(0.05, args.min_time / 4):
                n = max(1, round(args.min_time / (dt / k)))
                break
            k *= 2
    ms = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        steps(n)
        ms.append(1e3 * (time.perf_counter() - t0) / n)
    med = statistics.median(ms)
    print(f"{config:<18} {args.threads:>7} {n:>6} {med:>10.3f} {min(ms):>10.3f} "
          f"{max(ms):>10.3f} {B * T / (med * 1e-3):>12.0f} {loss.item():>7.3f}", flush=True)


def set_blas_threads(n):
    """Debian's torch calls the system libblas.so.3 for sgemm. When that is OpenBLAS (its
    pthread build), torch.set_num_threads does not reach it: it runs one thread per core
    unless told. Returns a description of the BLAS and the kernels it chose (DYNAMIC_ARCH
    picks them by CPU model; OPENBLAS_CORETYPE=SkylakeX forces the AVX-512 ones)."""
    try:
        lib = ctypes.CDLL("libblas.so.3")
        lib.openblas_set_num_threads(n)
        lib.openblas_get_config.restype = ctypes.c_char_p
        lib.openblas_get_corename.restype = ctypes.c_char_p
        config = lib.openblas_get_config().decode()
    except (OSError, AttributeError):
        return "libblas.so.3, not OpenBLAS: its own thread count"
    if n > 1 and "USE_OPENMP" not in config:
        print("pytorch_step.py: warning: OpenBLAS's pthread build with torch's OpenMP threads "
              "oversubscribes the cores (see the header)", file=sys.stderr)
    return (f"{config}; kernels {lib.openblas_get_corename().decode()}, "
            f"{lib.openblas_get_num_threads()} thread(s)")


if __name__ == "__main__":
    args = parse_args()
    # mgpt flushes denormals (FTZ/DAZ) on all its threads: a diverging or decaying run
    # otherwise slows down by up to 2x in the backward pass. Threads inherit the setting
    # from the thread that starts them, so set it before torch's and OpenBLAS's start.
    torch.set_flush_denormal(not args.keep_denormals)
    torch.set_num_threads(args.threads)
    blas = set_blas_threads(args.threads)
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} thread(s), denormals "
          f"{'kept' if args.keep_denormals else 'flushed'}, "
          f"{'bf16 autocast' if args.autocast_bf16 else 'fp32'}; BLAS {blas}")
    print(f"{'config':<18} {'threads':>7} {'steps':>6} {'ms/step':>10} {'min':>10} "
          f"{'max':>10} {'tokens/s':>12} {'loss':>7}")
    for c in args.config:
        measure(c)
