/**
 * VJP rule for the ONNX `SoftmaxCrossEntropyLoss` op (reductions mean/sum/none, class weights,
 * ignore_index), reusing its `log_prob` output when the forward node has one. The one-hot target is
 * subtracted in place (ScatterElements at the labels) rather than built as a [N, C] OneHot.
 */
import { attr } from '../../onnx/attr.js';
import { attrInt, attrString } from '../../onnx/ir.js';
import { Tensor } from '../../onnx/tensor.js';
import { type VjpRule, dtypeOf } from '../rule-context.js';

/** Loss ops. */
export const LOSS_RULES = {
  // loss = reduce(-w[l]·log_softmax(scores, axis 1)[l]); scores: [N, C, d…], labels: [N, d…] (int)
  // → dscores = (softmax(scores) - onehot(labels)) · w[l] · dloss / (N or Σw)   (+ LogSoftmax rule for dlog_prob)
  SoftmaxCrossEntropyLoss: (ctx) => {
    const [scores, labels, weights] = ctx.node.inputs as [string, string, string | undefined];
    const logProb = ctx.node.outputs[1];
    const b = ctx.b;
    const dt = dtypeOf(ctx, scores);
    const reduction = attrString(ctx.node, 'reduction', 'mean');
    const ignore = ctx.node.attributes.ignore_index ? attrInt(ctx.node, 'ignore_index', -100) : undefined;
    const p = logProb ? b.exp(logProb) : b.softmax(scores, 1); // [N, C, d…]
    let grad: string | undefined;
    const dloss = ctx.dy[0];
    if (dloss) {
      // Per-sample weight w[N, d…]: class weight × (label ≠ ignore_index); ignored labels point at class 0.
      let w: string | undefined;
      let safeLabels = labels;
      if (ignore !== undefined) {
        const keep = b.not(b.equal(labels, b.constant(Tensor.scalar(dtypeOf(ctx, labels), ignore), 'ignore')));
        safeLabels = b.where(keep, labels, b.constant(Tensor.scalar(dtypeOf(ctx, labels), 0), 'zero_label'));
        w = b.cast(keep, dt);
      }
      // p − onehot(labels) without a OneHot (slow in ORT at many classes): p with 1 subtracted at each
      // sample's label through GatherElements/ScatterElements at the labels' positions.
      const at = b.unsqueeze(safeLabels, [1]); // [N, 1, d…]
      const picked = b.op1('GatherElements', [p, at], { axis: attr.int(1) });
      let diff = b.op1('ScatterElements', [p, at, b.sub(picked, b.constant(Tensor.scalar(dt, 1), 'one_f'))], { axis: attr.int(1) });
      if (weights) {
        const cw = b.gather(weights, safeLabels, 0);
        w = w ? b.mul(w, cw) : cw;
      }
      if (w) diff = b.mul(diff, b.unsqueeze(w, [1]));
      if (reduction === 'none') {
        grad = b.mul(diff, b.unsqueeze(dloss, [1]));
      } else {
        let scale = dloss;
        if (reduction === 'mean') {
          const denom = w ? b.reduceSum(w, undefined, false) : b.cast(b.op1('Size', [labels]), dt);
          scale = b.div(dloss, denom);
        }
        grad = b.mul(diff, scale);
      }
    }
    const dlp = logProb ? ctx.dy[1] : undefined;
    if (dlp) {
      // log_prob = log_softmax(scores, 1) → dscores += dlp - p · Σ_c dlp
      const part = b.sub(dlp, b.mul(p, b.reduceSum(dlp, [1], true)));
      grad = grad ? b.add(grad, part) : part;
    }
    return [grad, undefined, undefined];
  },
} satisfies Record<string, VjpRule>;
