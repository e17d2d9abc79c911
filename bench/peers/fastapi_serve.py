# The Python serving peer for bench/serve-scale.ts: FastAPI + uvicorn (uvloop, httptools) + orjson +
# onnxruntime, answering the KServe v2 REST inference request for one model the way a user would write it
# (one onnxruntime session per worker process, intra-op threads 1, no batching).
# Usage: /tmp/peers/bin/python bench/peers/fastapi_serve.py <model.onnx> <port> <workers>
import os
import sys

import numpy as np
import onnxruntime as ort
import orjson
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response

MODEL = os.environ.get("PEER_MODEL", "")
DTYPES = {"FP32": np.float32, "FP64": np.float64, "INT64": np.int64, "INT32": np.int32}

app = FastAPI()
_session = None


def session():
    global _session
    if _session is None:
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        _session = ort.InferenceSession(MODEL, so, providers=["CPUExecutionProvider"])
    return _session


@app.get("/v2/health/ready")
def ready():
    session()
    return Response(status_code=200)


@app.post("/v2/models/{name}/infer")
async def infer(name: str, request: Request):
    body = orjson.loads(await request.body())
    s = session()
    feeds = {}
    for i in body["inputs"]:
        feeds[i["name"]] = np.asarray(i["data"], dtype=DTYPES[i["datatype"]]).reshape(i["shape"])
    outs = s.run(None, feeds)
    names = [o.name for o in s.get_outputs()]
    resp = {
        "model_name": name,
        "outputs": [{"name": n, "datatype": "FP32", "shape": list(v.shape), "data": v.ravel().tolist()} for n, v in zip(names, outs)],
    }
    return Response(orjson.dumps(resp), media_type="application/json")


if __name__ == "__main__":
    os.environ["PEER_MODEL"] = sys.argv[1]
    uvicorn.run("fastapi_serve:app", host="127.0.0.1", port=int(sys.argv[2]), workers=int(sys.argv[3]), loop="uvloop", http="httptools", log_level="warning", app_dir=os.path.dirname(os.path.abspath(__file__)))
