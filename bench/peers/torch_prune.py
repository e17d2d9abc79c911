# Peer for bench/compress-targets.ts: what PyTorch users get from pruning the same `cnn` layout on CPU.
#  - torch.nn.utils.prune (the mask approach TF-MOT and most repos use): 50% L1 structured channel
#    masks and 90% unstructured masks, made permanent with prune.remove — zeros, same dense kernels;
#  - the physically smaller network a DepGraph-style tool (Torch-Pruning) produces: the same layout with
#    the kept channel counts, built directly (random weights: speed only).
# Prints one JSON object: ms per batch (best of interleaved rounds) at 1 thread, batch 1 and 64.
# Usage: python bench/peers/torch_prune.py '{"full":[32,64,128],"pruned":[16,32,64],"classes":10}'
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.utils.prune as prune

torch.set_num_threads(1)
torch.manual_seed(0)
cfg = json.loads(sys.argv[1])


def cnn(c):
    c1, c2, c3 = c
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c1), nn.ReLU(),
        nn.Conv2d(c1, c2, 3, padding=1, bias=False), nn.BatchNorm2d(c2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(c2, c3, 3, padding=1, bias=False), nn.BatchNorm2d(c3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(c3 * 9, cfg["classes"]),
    ).eval()


def masked(kind):
    m = cnn(cfg["full"])
    for layer in m:
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            if kind == "structured" and isinstance(layer, nn.Conv2d):
                prune.ln_structured(layer, "weight", amount=0.5, n=1, dim=0)
            elif kind == "unstructured":
                prune.l1_unstructured(layer, "weight", amount=0.9)
            else:
                continue
            prune.remove(layer, "weight")
    return m


variants = {
    "fp32": cnn(cfg["full"]),
    "torch.nn.utils.prune 50% channel masks": masked("structured"),
    "torch.nn.utils.prune 90% unstructured masks": masked("unstructured"),
    "channels removed (Torch-Pruning's output layout)": cnn(cfg["pruned"]),
}
best = {name: {1: float("inf"), 64: float("inf")} for name in variants}
with torch.inference_mode():
    for _ in range(3):
        for name, m in variants.items():
            for b in (1, 64):
                x = torch.randn(b, 1, 28, 28)
                for _ in range(3):
                    m(x)
                t0 = time.perf_counter()
                while time.perf_counter() - t0 < 0.3:
                    a = time.perf_counter()
                    m(x)
                    best[name][b] = min(best[name][b], (time.perf_counter() - a) * 1000)
print(json.dumps({"torch": torch.__version__, "ms": {n: {"b1": v[1], "b64": v[64]} for n, v in best.items()}}))
