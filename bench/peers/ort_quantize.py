"""Peer for bench/quantize.ts: ONNX Runtime's own Python quantizer on the same model and calibration data.

Usage: ort_quantize.py --model in.onnx --out out.onnx --mode static|dynamic [--calib calib.npy]
       [--per-channel] [--activation-type uint8|int8] [--method minmax|percentile|entropy] [--no-preprocess]
Prints one JSON line: {"ok": true, "seconds": ...} or {"ok": false, "error": "..."}.
"""
import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np
import onnx
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                      quantize_dynamic, quantize_static)
from onnxruntime.quantization.shape_inference import quant_pre_process


class NpyReader(CalibrationDataReader):
    """Feeds the calibration array in batches of 64 under the model's first input name."""

    def __init__(self, path, input_name, batch=64):
        self.data = np.load(path).astype(np.float32)
        self.name = input_name
        self.batch = batch
        self.i = 0

    def get_next(self):
        if self.i >= len(self.data):
            return None
        b = self.data[self.i:self.i + self.batch]
        self.i += self.batch
        return {self.name: b}

    def rewind(self):
        self.i = 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--mode', choices=['static', 'dynamic'], required=True)
    ap.add_argument('--calib')
    ap.add_argument('--per-channel', action='store_true')
    ap.add_argument('--activation-type', choices=['uint8', 'int8'], default='int8')
    ap.add_argument('--method', choices=['minmax', 'percentile', 'entropy'], default='minmax')
    ap.add_argument('--no-preprocess', action='store_true')
    a = ap.parse_args()
    t0 = time.time()
    src = a.model
    tmp = tempfile.mkdtemp()
    if not a.no_preprocess:
        # ORT's documented first step: shape inference + graph optimisation (folds BatchNorm into Conv).
        pre = os.path.join(tmp, 'pre.onnx')
        quant_pre_process(src, pre)
        src = pre
    if a.mode == 'dynamic':
        quantize_dynamic(src, a.out, per_channel=a.per_channel, weight_type=QuantType.QInt8)
    else:
        name = onnx.load(src).graph.input[0].name
        method = {'minmax': CalibrationMethod.MinMax, 'percentile': CalibrationMethod.Percentile,
                  'entropy': CalibrationMethod.Entropy}[a.method]
        act = QuantType.QUInt8 if a.activation_type == 'uint8' else QuantType.QInt8
        quantize_static(src, a.out, NpyReader(a.calib, name), quant_format=QuantFormat.QDQ, per_channel=a.per_channel,
                        activation_type=act, weight_type=QuantType.QInt8, calibrate_method=method)
    print(json.dumps({'ok': True, 'seconds': time.time() - t0}))


if __name__ == '__main__':
    try:
        main()
    except Exception as e:  # noqa: BLE001 - the bench reports the peer's failure and carries on
        print(json.dumps({'ok': False, 'error': f'{type(e).__name__}: {e}'.splitlines()[0]}))
        sys.exit(1)
