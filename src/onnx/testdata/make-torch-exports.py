# Regenerates the PyTorch-exported test models in this folder (run once by hand; tests never run Python):
#   python3 -m venv /tmp/peers && /tmp/peers/bin/pip install torch onnx && /tmp/peers/bin/python make-torch-exports.py
# Produced with torch 2.13.0 (TorchScript exporter, dynamo=False). The transformer block's export fixes
# seq = 7 inside attention (a known limit of that exporter); batch stays dynamic.
import torch, torch.nn as nn
torch.manual_seed(0)
class Block(nn.Module):
    def __init__(s):
        super().__init__()
        s.emb = nn.Embedding(100, 32)
        s.layer = nn.TransformerEncoderLayer(32, 4, 64, batch_first=True, dropout=0.0)
        s.head = nn.Linear(32, 5)
    def forward(s, tokens):
        h = s.layer(s.emb(tokens))
        b, t, d = h.shape
        h = h.reshape(b * t, d)
        return s.head(h).reshape(b, t, -1).mean(1)
class CNN(nn.Module):
    def __init__(s):
        super().__init__()
        s.f = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
                            nn.Conv2d(8, 16, 3, stride=2, groups=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        s.fc = nn.Linear(16, 10)
    def forward(s, x):
        return torch.softmax(s.fc(torch.flatten(s.f(x), 1)), -1)
m = Block().eval()
for dynamo in (False,):
    suffix = 'dynamo' if dynamo else 'ts'
    try:
        kw = dict(dynamic_axes={'tokens': {0: 'batch', 1: 'seq'}}) if not dynamo else dict(dynamic_shapes=({0: torch.export.Dim('batch'), 1: torch.export.Dim('seq')},))
        torch.onnx.export(m, (torch.randint(0, 100, (2, 7)),), 'torch-transformer-block.onnx', input_names=['tokens'], output_names=['out'], opset_version=17 if not dynamo else 18, dynamo=dynamo, **kw)
        print('block', suffix, 'ok')
    except Exception as e:
        print('block', suffix, 'failed', type(e).__name__, str(e)[:200])
c = CNN().eval()
try:
    torch.onnx.export(c, (torch.randn(2, 3, 15, 15),), 'torch-small-cnn.onnx', input_names=['image'], output_names=['probs'], opset_version=13, dynamo=False, dynamic_axes={'image': {0: 'N'}})
    print('cnn ok')
except Exception as e:
    print('cnn failed', e)
