"""PyTorch CPU peer of bench/recsys.ts: the same MF (BPR, 4 uniform negatives) and two-tower (in-batch
sampled softmax with logQ correction, accidental hits masked) architectures as trainfer's presets, on
the same training interactions and batch, with sparse embeddings (nn.Embedding(sparse=True)) updated
by Adagrad (the sparse-gradient optimizer PyTorch ships for it; trainfer's rowwise-adagrad keeps one
accumulator per row) or SparseAdam, dense parameters by Adam. Also the sparse step time at a given
table size (step time must not grow with rows). Prints one JSON object.

Run only from bench/recsys.ts (it writes the interactions as raw int32 files and reads this output).
"""
import json
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def load(prefix, name):
    return torch.from_numpy(np.fromfile(f"{prefix}.{name}.i32", dtype=np.int32).astype(np.int64))


class MF(nn.Module):
    def __init__(self, users, items, dim):
        super().__init__()
        self.p = nn.Embedding(users, dim, sparse=True)
        self.q = nn.Embedding(items, dim, sparse=True)
        self.bu = nn.Embedding(users, 1, sparse=True)
        self.bi = nn.Embedding(items, 1, sparse=True)
        self.mu = nn.Parameter(torch.zeros(1))
        for e in (self.p, self.q):
            nn.init.normal_(e.weight, std=0.1)
        nn.init.zeros_(self.bu.weight)
        nn.init.zeros_(self.bi.weight)

    def score(self, u, i):
        # u: [B], i: [B, n]
        pu = self.p(u).unsqueeze(1)
        return (pu * self.q(i)).sum(-1) + self.bu(u) + self.bi(i).squeeze(-1) + self.mu

    def loss(self, u, pos, neg):
        sp = self.score(u, pos.unsqueeze(1))
        sn = self.score(u, neg)
        return F.softplus(sn - sp).mean()


class Tower(nn.Module):
    def __init__(self, count, dim, cats, feat):
        super().__init__()
        self.emb = nn.Embedding(count, dim, sparse=True)
        nn.init.normal_(self.emb.weight, std=dim ** -0.5)
        self.feat = feat
        self.femb = nn.Embedding(cats, 16, sparse=True)
        nn.init.normal_(self.femb.weight, std=0.25)
        self.mlp = nn.Sequential(nn.Linear(dim + 16, 2 * dim), nn.ReLU(), nn.Linear(2 * dim, dim))

    def forward(self, ids):
        return self.mlp(torch.cat([self.emb(ids), self.femb(self.feat[ids])], -1))


class TwoTower(nn.Module):
    def __init__(self, users, items, dim, useg, igen, row_l2=0.0):
        super().__init__()
        self.user = Tower(users, dim, int(useg.max()) + 1, useg)
        self.item = Tower(items, dim, int(igen.max()) + 1, igen)
        self.row_l2 = row_l2

    def loss(self, u, i, logq):
        qu = self.user(u)
        ci = self.item(i)
        # trainfer's --sparse-weight-decay: g += wd·w on each touched id row, i.e. 0.5·wd·Σ‖w‖² over the
        # batch's unique ids (torch's sparse Adagrad takes no weight_decay).
        reg = 0.0
        if self.row_l2:
            reg = 0.5 * self.row_l2 * (self.user.emb(u.unique()).pow(2).sum() + self.item.emb(i.unique()).pow(2).sum())
        logits = qu @ ci.T - logq[i].unsqueeze(0)
        hit = (i.unsqueeze(0) == i.unsqueeze(1)) & ~torch.eye(len(i), dtype=torch.bool)
        logits = logits.masked_fill(hit, -1e9)
        return F.cross_entropy(logits, torch.arange(len(i))) + reg


def optimizers(model, sparse_opt, lr, sparse_lr):
    sparse = [p for n, p in model.named_parameters() if any(n.endswith(s) for s in ("p.weight", "q.weight", "bu.weight", "bi.weight", "emb.weight", "femb.weight"))]
    ids = {id(p) for p in sparse}
    dense = [p for p in model.parameters() if id(p) not in ids]
    s = torch.optim.Adagrad(sparse, lr=sparse_lr) if sparse_opt == "adagrad" else torch.optim.SparseAdam(sparse, lr=sparse_lr)
    return [s, torch.optim.Adam(dense, lr=lr)]


def train(model, opts, batches, steps, warmup, windows=5):
    """Seconds per step of the best of `windows` equal windows after the warm-up (the least disturbed
    on a shared machine, as trainfer's side reports it), and the last loss."""
    per = max(1, steps // windows)
    best = float("inf")
    t0 = None
    for s, b in enumerate(batches()):
        if s >= warmup and (s - warmup) % per == 0:
            now = time.perf_counter()
            if t0 is not None:
                best = min(best, (now - t0) / per)
            t0 = now
        if s >= warmup + per * windows:
            break
        for o in opts:
            o.zero_grad(set_to_none=True)
        loss = model.loss(*b)
        loss.backward()
        for o in opts:
            o.step()
    return best * steps, float(loss)


def main():
    cfg = json.loads(sys.argv[1])
    torch.set_num_threads(cfg.get("threads", 2))
    torch.manual_seed(0)
    B = cfg["batch"]
    out = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    if cfg["task"] == "train":
        u, i = load(cfg["prefix"], "user"), load(cfg["prefix"], "item")
        useg, igen = load(cfg["prefix"], "user_segment"), load(cfg["prefix"], "item_genre")
        users, items, n = cfg["users"], cfg["items"], len(u)
        g = torch.Generator().manual_seed(1)

        def epoch_batches(make):
            def gen():
                while True:
                    perm = torch.randperm(n, generator=g)
                    for s in range(0, n - B + 1, B):
                        idx = perm[s : s + B]
                        yield make(u[idx], i[idx])
            return gen

        counts = torch.bincount(i, minlength=items).double()
        logq = torch.log((counts + 1) / (counts + 1).sum()).float()
        for name in cfg["models"]:
            if name == "mf":
                m = MF(users, items, cfg["mf_dim"])
                make = lambda uu, ii: (uu, ii, torch.randint(0, items, (len(uu), 4), generator=g))
            else:
                m = TwoTower(users, items, cfg["tt_dim"], useg, igen)
                make = lambda uu, ii: (uu, ii, logq)
            for opt in cfg["sparse_optimizers"]:
                torch.manual_seed(0)
                mm = MF(users, items, cfg["mf_dim"]) if name == "mf" else TwoTower(users, items, cfg["tt_dim"], useg, igen, cfg.get("tt_row_l2", 0.0))
                secs, loss = train(mm, optimizers(mm, opt, cfg["lr"][name], cfg["sparse_lr"]), epoch_batches(make), cfg["steps"], 20)
                out[f"{name}/{opt}"] = {"samples_per_s": cfg["steps"] * B / secs, "step_ms": secs / cfg["steps"] * 1000, "loss": loss}
            del m
    elif cfg["task"] == "rows":
        # Sparse step time vs table rows: MF (dim 64, BPR, 4 negatives), random ids over the whole table.
        rows = cfg["rows"]
        m = MF(rows, 1000, 64)
        g = torch.Generator().manual_seed(1)
        opts = optimizers(m, "adagrad", 0.01, 0.1)

        def gen():
            while True:
                yield torch.randint(0, rows, (B,), generator=g), torch.randint(0, 1000, (B,), generator=g), torch.randint(0, 1000, (B, 4), generator=g)

        secs, _ = train(m, opts, gen, cfg["steps"], 20)
        out["step_ms"] = secs / cfg["steps"] * 1000
        out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
