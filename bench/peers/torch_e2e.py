"""PyTorch CPU peer for bench/train-e2e.ts: the plain training loop a PyTorch user writes, over real MNIST.

Usage: python torch_e2e.py <mlp|lenet> <mnist dir> <epochs> <batch> <lr> <schedule: onecycle|constant> <threads> [limit]
Loads the IDX files once into a float tensor (pixels / 255, standardised like Trainfer's batcher does),
holds out 5% for validation, then per epoch: a fresh permutation, `X[idx]` batches (last partial batch
dropped, as Trainfer does), forward, cross-entropy, backward, SGD step (Nesterov momentum 0.9),
`loss.item()` and the correct count every step (what a progress line needs), and a validation pass after
the epoch. samplesPerSecond counts the training loops only (validation excluded), like `trainfer train`'s.
Prints one JSON line.
"""
import json
import sys
import time

import numpy as np
import torch
import torch.nn as nn

kind, root, epochs, batch, lr, schedule, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), sys.argv[6], int(sys.argv[7])
limit = int(sys.argv[8]) if len(sys.argv) > 8 else 0
torch.set_num_threads(threads)
torch.manual_seed(0)


def idx(path):
    with open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


t_load = time.perf_counter()
images = idx(f"{root}/train-images-idx3-ubyte")
labels = idx(f"{root}/train-labels-idx1-ubyte")
X = (torch.from_numpy(images.astype(np.float32) / 255.0) - 0.1307) / 0.3081
X = X.reshape(-1, 1, 28, 28)
Y = torch.from_numpy(labels.astype(np.int64))
perm0 = torch.randperm(X.shape[0])
n_val = int(X.shape[0] * 0.05)
Xv, Yv = X[perm0[:n_val]], Y[perm0[:n_val]]
Xt, Yt = X[perm0[n_val:]], Y[perm0[n_val:]]
if limit:
    Xt, Yt = Xt[:limit], Yt[:limit]
load_seconds = time.perf_counter() - t_load

if kind == "mlp":
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
else:
    model = nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10),
    )
opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True)
steps_per_epoch = Xt.shape[0] // batch
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps_per_epoch * epochs) if schedule == "onecycle" else None
loss_fn = nn.CrossEntropyLoss()

step_seconds = 0.0
samples = 0
history = []
for epoch in range(epochs):
    model.train()
    t0 = time.perf_counter()
    order = torch.randperm(Xt.shape[0])
    loss_sum, correct = 0.0, 0
    for b in range(steps_per_epoch):
        ids = order[b * batch:(b + 1) * batch]
        xb, yb = Xt[ids], Yt[ids]
        opt.zero_grad(set_to_none=True)
        out = model(xb)
        loss = loss_fn(out, yb)
        loss.backward()
        opt.step()
        if sched:
            sched.step()
        loss_sum += loss.item()
        correct += (out.argmax(1) == yb).sum().item()
    secs = time.perf_counter() - t0
    step_seconds += secs
    samples += steps_per_epoch * batch
    model.eval()
    with torch.no_grad():
        val_acc = sum((model(Xv[i:i + 1000]).argmax(1) == Yv[i:i + 1000]).sum().item() for i in range(0, Xv.shape[0], 1000)) / Xv.shape[0]
    history.append({"epoch": epoch + 1, "loss": loss_sum / steps_per_epoch, "accuracy": correct / (steps_per_epoch * batch), "valAccuracy": val_acc, "samplesPerSecond": steps_per_epoch * batch / secs})
print(json.dumps({"model": kind, "samplesPerSecond": samples / step_seconds, "loadSeconds": load_seconds, "history": history, "torch": torch.__version__}))
