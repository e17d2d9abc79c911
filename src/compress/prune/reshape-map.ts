/**
 * How a Reshape/Flatten maps input axes onto output axes: consecutive dims grouped into blocks whose
 * sizes multiply to the same number ([N, 128, 3, 3] → [N, 1152]: {1, 2, 3} → {1}; [B, S, 64] →
 * [B, S, 4, 16]: {2} → {2, 3}). Symbolic dims must match one to one; size-1 dims join the block before.
 */
import type { Dim } from '../../onnx/ir.js';

/** A block: these input axes hold exactly the elements of these output axes, in the same row-major order. */
export interface ReshapeBlock {
  in: number[];
  out: number[];
}

/** The blocks of a reshape, or undefined when the shapes cannot be matched statically. */
export function reshapeBlocks(sIn: readonly Dim[], sOut: readonly Dim[]): ReshapeBlock[] | undefined {
  const blocks: ReshapeBlock[] = [];
  let i = 0;
  let j = 0;
  const isNum = (d: Dim | undefined): d is number => typeof d === 'number' && d >= 0;
  while (i < sIn.length || j < sOut.length) {
    const a = sIn[i];
    const b = sOut[j];
    if (i < sIn.length && j < sOut.length && !isNum(a) && !isNum(b)) {
      // Symbolic dims: the same name, or both leading (the batch).
      if (a !== b && !(i === 0 && j === 0)) return undefined;
      blocks.push({ in: [i++], out: [j++] });
      continue;
    }
    if (i >= sIn.length || j >= sOut.length) {
      // Trailing 1s on one side join the last block.
      const last = blocks[blocks.length - 1];
      if (!last) return undefined;
      if (i < sIn.length) {
        if (sIn[i] !== 1) return undefined;
        last.in.push(i++);
      } else {
        if (sOut[j] !== 1) return undefined;
        last.out.push(j++);
      }
      continue;
    }
    if (!isNum(a) || !isNum(b)) return undefined;
    const blk: ReshapeBlock = { in: [i++], out: [j++] };
    let pIn = a;
    let pOut = b;
    while (pIn !== pOut) {
      if (pIn < pOut) {
        const d = sIn[i];
        if (!isNum(d)) return undefined;
        pIn *= d;
        blk.in.push(i++);
      } else {
        const d = sOut[j];
        if (!isNum(d)) return undefined;
        pOut *= d;
        blk.out.push(j++);
      }
    }
    blocks.push(blk);
  }
  return blocks;
}
