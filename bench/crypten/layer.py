#!/usr/bin/env python3
"""
One BERT-base encoder layer in CrypTen (2 parties, this machine), the baseline of `npm run bench:crypten`.

The layer is the one our bench measures (ts/model/mpc.ts MpcEncoder.layer, post-LayerNorm BERT): QKV
projections, softmax attention over 12 heads with the padding mask, output projection, residual and LayerNorm,
FFN 768 -> 3072 -> 768 with GELU, residual and LayerNorm. Everything is CrypTen's own: its Beaver products,
its softmax (max by log reduction, exp, reciprocal), GELU as 0.5 x (1 + erf(x / sqrt 2)) with its erf, and
LayerNorm from its mean and inv_sqrt (CrypTen 0.4.1 has no LayerNorm module). CrypTen's erf is a Taylor series
that diverges for |x| > ~2.5 (its source says so), and this layer's FFN activations reach 5-7: with --gelu erf
the output is wrong (the comparison with float64 below shows it) though its cost is the cost of that erf.
--gelu tanh computes 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) with CrypTen's tanh instead, which is
accurate there (error ~1e-3). Weights are seeded random,
with our bench's scales (ts/model/tiny.ts: matrices N(0, 1/hidden), LayerNorm gammas N(1, 0.05^2), biases
N(0, 0.05^2)); party 1 (the model owner's stand-in) shares them and party 0 the layer input, a unit-scale
[batch, seq, hidden] tensor whose example b has seq - floor(b seq / 2 batch) real tokens (bench/workloads/
transformer.ts benchBatch). Sharing is untimed; the timed part is the layer on shares, between two barriers.

Bytes, rounds and communication time come from CrypTen's own statistics (cfg.communicator.verbose,
get_communication_stats). Each party counts what it sends and what it receives, so the bytes the system sent
are the two parties' sum halved (CrypTen's documentation says so); rounds are party 0's. The provider is
CrypTen's default, TFP ("trusted first party"): party 0 makes the Beaver triples itself and the shares come
from shared seeds, so there is no dealer traffic at all (and no security against party 0).

After the timed part the output is revealed to party 0 (as ring integers, decoded here: CrypTen's own decoder
is off by one for some negative values, see party()) and compared with the same layer in float64 torch.

  python bench/crypten/layer.py [--batch 8] [--seq 128] [--gelu erf|tanh] [--threads 1] [--out FILE]

Prints one JSON object (the last line of stdout, and FILE if given).
"""
import argparse
import json
import math
import os
import multiprocessing
import platform
import queue
import sys
import threading
import time

HIDDEN, HEADS, FFN = 768, 12, 3072
LN_EPS = 1e-12
# Added to padded keys' scores before the softmax. CrypTen's exp is (1 + x / 2^8)^(2^8), which turns large again
# below -256, so the mask bias must stay well above that (our MPC_DEFAULTS.softmaxMaskBias plays the same role).
MASK_BIAS = 30.0
# How long the parties may take to shut CrypTen down once both have handed over their results.
TEARDOWN_SECONDS = 30


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.strip().split("\n")[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--gelu", choices=("erf", "tanh"), default="erf", help="GELU from CrypTen's erf (default) or tanh")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per party (default 1: 2 parties, 2 cores)")
    ap.add_argument("--out", help="also write the JSON here")
    a = ap.parse_args()
    for name in ("batch", "seq", "threads"):
        if getattr(a, name) < 1:
            ap.error(f"--{name} must be a positive integer")
    return a


def plain_inputs(batch, seq):
    """The layer's weights, input and additive mask, as float64 torch tensors, the same on both parties."""
    import torch

    g = torch.Generator().manual_seed(1)
    std = 1 / math.sqrt(HIDDEN)

    def normal(*shape, mean=0.0, sd=0.05):
        return torch.randn(*shape, generator=g, dtype=torch.float64) * sd + mean

    w = {
        "wq": normal(HIDDEN, HIDDEN, sd=std), "bq": normal(HIDDEN),
        "wk": normal(HIDDEN, HIDDEN, sd=std), "bk": normal(HIDDEN),
        "wv": normal(HIDDEN, HIDDEN, sd=std), "bv": normal(HIDDEN),
        "wo": normal(HIDDEN, HIDDEN, sd=std), "bo": normal(HIDDEN),
        "g1": normal(HIDDEN, mean=1.0), "b1": normal(HIDDEN),
        "w1": normal(HIDDEN, FFN, sd=std), "bf1": normal(FFN),
        "w2": normal(FFN, HIDDEN, sd=std), "bf2": normal(HIDDEN),
        "g2": normal(HIDDEN, mean=1.0), "b2": normal(HIDDEN),
    }
    x = normal(batch, seq, HIDDEN, sd=1.0)
    lengths = [seq - (b * seq) // (2 * batch) for b in range(batch)]
    real = torch.tensor([[1.0 if i < n else 0.0 for i in range(seq)] for n in lengths], dtype=torch.float64)
    mask = ((real - 1) * MASK_BIAS).view(batch, 1, 1, seq)
    return w, x, mask


def layer(x, w, mask, ops):
    """The layer on x [B, n, H]; `ops` supplies gelu and layer_norm (CrypTen's or exact float64)."""
    B, n, H = x.size()
    d = H // HEADS

    def heads(t):
        return t.view(B, n, HEADS, d).permute(0, 2, 1, 3)

    q = heads(x.matmul(w["wq"]) + w["bq"])
    k = heads(x.matmul(w["wk"]) + w["bk"])
    v = heads(x.matmul(w["wv"]) + w["bv"])
    scores = q.matmul(k.transpose(2, 3)) * (1 / math.sqrt(d)) + mask
    p = scores.softmax(3)
    ctx = p.matmul(v).permute(0, 2, 1, 3).reshape(B, n, H)
    x1 = ops.layer_norm(ctx.matmul(w["wo"]) + w["bo"] + x, w["g1"], w["b1"])
    h = ops.gelu(x1.matmul(w["w1"]) + w["bf1"])
    return ops.layer_norm(h.matmul(w["w2"]) + w["bf2"] + x1, w["g2"], w["b2"])


class CryptenOps:
    @staticmethod
    def gelu(x):
        return x * ((x * (1 / math.sqrt(2))).erf() + 1) * 0.5

    @staticmethod
    def layer_norm(x, gamma, beta):
        mu = x.mean(2, keepdim=True)
        c = x - mu
        var = c.square().mean(2, keepdim=True)
        return c * (var + LN_EPS).inv_sqrt() * gamma + beta


class CryptenTanhOps(CryptenOps):
    @staticmethod
    def gelu(x):
        return x * ((x + x.square() * x * 0.044715) * math.sqrt(2 / math.pi)).tanh().add(1) * 0.5


class PlainOps:
    @staticmethod
    def gelu(x):
        return x * 0.5 * (1 + (x / math.sqrt(2)).erf())

    @staticmethod
    def layer_norm(x, gamma, beta):
        import torch

        return torch.nn.functional.layer_norm(x, (x.size(-1),), gamma, beta, LN_EPS)


def party(results, batch, seq, gelu, threads):
    import crypten
    import crypten.communicator as comm
    import torch

    torch.set_num_threads(threads)
    crypten.cfg.communicator.verbose = True
    rank = comm.get().get_rank()
    w, x, mask = plain_inputs(batch, seq)
    # Party 1 shares the weights, party 0 the input; the mask is public, as the batch's lengths are in ours.
    ew = {name: crypten.cryptensor(t, src=1) for name, t in w.items()}
    ex = crypten.cryptensor(x, src=0)
    comm.get().barrier()
    crypten.reset_communication_stats()
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    out = layer(ex, ew, mask, CryptenTanhOps if gelu == "tanh" else CryptenOps)
    comm.get().barrier()
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    stats = dict(comm.get().get_communication_stats())
    # Revealed as ring integers and scaled here: CrypTen 0.4.1's decoder (get_plain_text) floor-divides a
    # negative value by 2^16 - 1 instead of 2^16, which turns about k in 65,536 values just above -k into
    # values just above -k - 1 (an error of exactly 1, seen a few times in every batch 8 output).
    plain = out.reveal(dst=0)
    result = {"rank": rank, "seconds": seconds, "cpu": cpu, **{k: float(v) for k, v in stats.items()}}
    if rank == 0:
        ref = layer(x, w, mask, PlainOps)
        err = (plain.double() / out.encoder._scale - ref).abs()
        result["maxAbsError"] = float(err.max())
        result["meanAbsError"] = float(err.mean())
        result["refMaxAbs"] = float(ref.abs().max())
    try:
        import resource

        result["maxRssMiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    except ImportError:
        pass
    # Handed over here, before CrypTen's launcher tears the process group down: that teardown has been seen to
    # hang in one party after the other exited (torch 2.0, gloo), and its queue is read only after both exit.
    results.put(result)
    return None


def main():
    a = parse_args()
    # Both parties talk over loopback (gloo); the launcher forks them from this process.
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    import crypten
    import torch
    from crypten.mpc.context import run_multiprocess

    crypten.cfg.communicator.verbose = True
    print(f"crypten {crypten.__version__}, torch {torch.__version__}: one BERT-base layer, batch {a.batch} x seq {a.seq}, GELU by {a.gelu}, "
          f"2 parties (provider {crypten.cfg.mpc.provider}), {a.threads} thread(s) each", file=sys.stderr, flush=True)
    wall = time.perf_counter()
    # CrypTen's launcher (fork, rendezvous file, gloo) runs in a thread; the parties' results come back on our own
    # queue. A party that fails makes the launcher return (and log it) without a result.
    results = multiprocessing.Queue()
    launcher = threading.Thread(target=run_multiprocess(world_size=2)(party), args=(results, a.batch, a.seq, a.gelu, a.threads), daemon=True)
    launcher.start()
    ranks = []
    while len(ranks) < 2:
        try:
            ranks.append(results.get(timeout=5))
        except queue.Empty:
            if not launcher.is_alive():
                sys.exit("crypten: a party failed (see the log above)")
    launcher.join(TEARDOWN_SECONDS)
    if launcher.is_alive():
        print(f"crypten: a party is still tearing down after {TEARDOWN_SECONDS} s; stopping it", file=sys.stderr, flush=True)
        for child in multiprocessing.active_children():
            child.terminate()
    r0, r1 = sorted(ranks, key=lambda r: r["rank"])
    out = {
        "crypten": crypten.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "provider": crypten.cfg.mpc.provider,
        "precisionBits": int(crypten.cfg.encoder.precision_bits),
        "threadsPerParty": a.threads,
        "gelu": a.gelu,
        "shape": {"hidden": HIDDEN, "heads": HEADS, "intermediate": FFN, "batch": a.batch, "seq": a.seq},
        # The slower party's time; bytes the system sent (each party counts sent + received); party 0's rounds.
        "seconds": max(r0["seconds"], r1["seconds"]),
        "cpu": r0["cpu"] + r1["cpu"],
        "bytes": (r0["bytes"] + r1["bytes"]) / 2,
        "rounds": int(r0["rounds"]),
        "commSeconds": max(r0["time"], r1["time"]),
        "maxAbsError": r0["maxAbsError"],
        "meanAbsError": r0["meanAbsError"],
        "refMaxAbs": r0["refMaxAbs"],
        "parties": ranks,
        "wallSeconds": time.perf_counter() - wall,
    }
    line = json.dumps(out)
    if a.out:
        with open(a.out, "w") as f:
            f.write(line + "\n")
    print(line)


if __name__ == "__main__":
    main()
