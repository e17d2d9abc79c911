/**
 * How a failed model run becomes an HTTP answer. A run that onnxruntime rejects for one request alone
 * (its inputs already passed the datatype and shape checks, so the failure depends on its values: an
 * out-of-range Gather index, dims that do not broadcast) is that request's fault: 400. A crash, a
 * resource failure or an unexpected error is the server's: 500. Messages never carry server paths:
 * onnxruntime's source locations and C++ signatures are cut, and the pool's label is left out.
 */
import { PoolError } from '../runtime/pool.js';
import { oneLine } from '../util/errors.js';
import { InferenceError } from './errors.js';

const RESOURCE = /failed to allocate|bad_alloc|out of memory|std::bad|Cannot allocate/i;

/** onnxruntime's run failure in words: node, op and message, without source paths or signatures. */
export function describeOrtFailure(message: string): string {
  let m = oneLine(message).replace(/^onnxruntime run failed:\s*/, '');
  // "/onnxruntime_src/.../gather.cc:63 virtual onnxruntime::common::Status onnxruntime::X::Compute(...) const " → ""
  m = m.replace(/(?:\/[\w.+-]+)+\.(?:cc|cpp|h|hpp|cu):\d+\s+(?:[\w:<>,*&~ ]*\([^()]*\)(?:\s*const)?\s+)?/g, '');
  const node = /^Non-zero status code returned while running (\S+) node\. Name:'([^']*)' Status Message:\s*(.*)$/.exec(m);
  if (node) m = `${node[1]} node '${node[2]}': ${node[3]}`;
  return m.trim();
}

/** The InferenceError for a failed run of a batch of `requests` (1 = the request ran alone). */
export function runFailure(err: unknown, requests: number): InferenceError {
  if (err instanceof InferenceError) return err;
  if (!(err instanceof PoolError)) return new InferenceError(oneLine(err), 500);
  switch (err.kind) {
    case 'run': {
      const what = describeOrtFailure(err.detail);
      if (requests === 1 && !RESOURCE.test(what)) return new InferenceError(`the model cannot run on this request's values: ${what}`, 400);
      return new InferenceError(`the model failed to run: ${what}`, 500);
    }
    case 'crash':
      return new InferenceError(`the instance running this request failed (${err.detail}); it was replaced`, 500);
    case 'timeout':
      return new InferenceError(`request timed out: ${err.detail}`, 504);
    case 'unavailable':
      return new InferenceError(`the model is unavailable: ${err.detail}`, 503, { 'Retry-After': '5' });
    case 'closed':
      return new InferenceError(err.detail, 503);
  }
}
