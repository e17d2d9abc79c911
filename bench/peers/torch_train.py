"""PyTorch CPU training throughput peer for bench/train-vs-peers.ts.

Usage: python torch_train.py <mlp|lenet> <batch> <steps> <threads> [windows]
Prints one JSON line: {"model", "batch", "steps", "samplesPerSecond", "torch"}; samplesPerSecond is the
best of `windows` timed windows of `steps` steps (robust to other jobs on a shared machine).
Random data of MNIST shape; the work per step is the same as ours (forward, loss, backward, SGD update).
"""
import json
import sys
import time

import torch
import torch.nn as nn

kind, batch, steps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
windows = int(sys.argv[5]) if len(sys.argv) > 5 else 1
torch.set_num_threads(threads)
torch.manual_seed(0)

if kind == "mlp":
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
else:
    model = nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10),
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

loss_fn = nn.CrossEntropyLoss()
xs = torch.rand(16, batch, 1, 28, 28)
ys = torch.randint(0, 10, (16, batch))


def step(i):
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(model(xs[i % 16]), ys[i % 16])
    loss.backward()
    opt.step()
    return loss


for i in range(max(5, steps // 10)):
    step(i)
best = 0.0
for w in range(windows):
    t0 = time.perf_counter()
    for i in range(steps):
        step(i)
    best = max(best, batch * steps / (time.perf_counter() - t0))
print(json.dumps({"model": kind, "batch": batch, "steps": steps, "samplesPerSecond": best, "torch": torch.__version__}))
