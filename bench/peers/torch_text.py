"""PyTorch CPU peer for bench/language.ts: the same text classifier as `transformer:L,D,H` trained for
speed on random token rows of the same shape.

Usage: python torch_text.py <layers> <dim> <heads> <vocab> <seq> <batch> <steps> <threads> [windows]
The model: nn.Embedding + learned positions, nn.TransformerEncoder of pre-LN layers (norm_first=True,
GELU, FFN 4*dim, dropout 0.2, batch_first), final LayerNorm, masked mean pooling, nn.Linear(dim, 2);
AdamW (weight decay 0.1), cross entropy with label smoothing 0.1 (the preset's defaults). A quarter of each row is padding (masked), as in real emails.
Prints one JSON line: {"samplesPerSecond", "torch", ...}: the best of `windows` timed windows.
"""
import json
import sys
import time

import torch
import torch.nn as nn

L, D, H, V, S, B, steps, threads = (int(a) for a in sys.argv[1:9])
windows = int(sys.argv[9]) if len(sys.argv) > 9 else 1
torch.set_num_threads(threads)
torch.manual_seed(0)


class TextClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(V, D)
        self.pos = nn.Parameter(torch.randn(1, S, D) * 0.02)
        self.drop = nn.Dropout(0.2)
        layer = nn.TransformerEncoderLayer(D, H, 4 * D, 0.2, activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, L, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(D)
        self.head = nn.Linear(D, 2)

    def forward(self, ids, mask):
        x = self.drop(self.tok(ids) + self.pos[:, : ids.shape[1]])
        x = self.norm(self.encoder(x, src_key_padding_mask=mask == 0))
        m = mask.unsqueeze(-1).float()
        return self.head((x * m).sum(1) / m.sum(1))


model = TextClassifier()
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
ids = torch.randint(5, V, (B, S))
mask = torch.ones(B, S, dtype=torch.long)
mask[:, S * 3 // 4 :] = 0
y = torch.randint(0, 2, (B,))


def step():
    opt.zero_grad()
    loss = loss_fn(model(ids, mask), y)
    loss.backward()
    opt.step()


for _ in range(3):
    step()
best = 0.0
for _ in range(windows):
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    best = max(best, steps * B / (time.perf_counter() - t0))
print(json.dumps({"samplesPerSecond": best, "torch": torch.__version__, "threads": threads, "layers": L, "dim": D, "heads": H, "seq": S, "batch": B}))
