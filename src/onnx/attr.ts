/**
 * Attribute constructors: `attr.int(1)`, `attr.floats([0.5])`, … — explicit about ONNX types, because a
 * JavaScript `1` cannot say whether it is an int or a float attribute.
 */
import type { Attribute, Graph } from './ir.js';
import type { Tensor } from './tensor.js';

/** Builds tagged attributes. */
export const attr = {
  int: (value: number): Attribute => ({ type: 'int', value }),
  float: (value: number): Attribute => ({ type: 'float', value }),
  string: (value: string): Attribute => ({ type: 'string', value }),
  ints: (value: readonly number[]): Attribute => ({ type: 'ints', value: [...value] }),
  floats: (value: readonly number[]): Attribute => ({ type: 'floats', value: [...value] }),
  strings: (value: readonly string[]): Attribute => ({ type: 'strings', value: [...value] }),
  tensor: (value: Tensor): Attribute => ({ type: 'tensor', value }),
  graph: (value: Graph): Attribute => ({ type: 'graph', value }),
} as const;

/** Drops entries whose value is undefined, so optional builder options leave attributes unset. */
export function attrs(entries: Record<string, Attribute | undefined>): Record<string, Attribute> {
  const out: Record<string, Attribute> = {};
  for (const [k, v] of Object.entries(entries)) if (v !== undefined) out[k] = v;
  return out;
}
