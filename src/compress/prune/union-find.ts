/**
 * Union–find over channel elements, with a reason carried per set: `fixed` (the channels must stay — a
 * graph output, an op pruning does not know) and `lossy` (removing them changes the function even when
 * they are zero — e.g. a LayerNorm normalising over them). Merging two sets keeps both reasons.
 */
export class UnionFind {
  private readonly parent: number[] = [];
  private readonly fixedWhy = new Map<number, string>();
  private readonly lossyWhy = new Map<number, string>();

  /** `n` new singleton elements; returns their ids. */
  make(n: number): Int32Array {
    const ids = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      ids[i] = this.parent.length;
      this.parent.push(this.parent.length);
    }
    return ids;
  }

  get size(): number {
    return this.parent.length;
  }

  find(a: number): number {
    let r = a;
    while (this.parent[r] !== r) r = this.parent[r]!;
    while (this.parent[a] !== r) {
      const next = this.parent[a]!;
      this.parent[a] = r;
      a = next;
    }
    return r;
  }

  union(a: number, b: number): number {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra === rb) return ra;
    const [root, child] = ra < rb ? [ra, rb] : [rb, ra];
    this.parent[child] = root;
    for (const m of [this.fixedWhy, this.lossyWhy]) {
      const w = m.get(child);
      if (w !== undefined) {
        if (!m.has(root)) m.set(root, w);
        m.delete(child);
      }
    }
    return root;
  }

  fix(a: number, why: string): void {
    const r = this.find(a);
    if (!this.fixedWhy.has(r)) this.fixedWhy.set(r, why);
  }

  markLossy(a: number, why: string): void {
    const r = this.find(a);
    if (!this.lossyWhy.has(r)) this.lossyWhy.set(r, why);
  }

  fixedReason(a: number): string | undefined {
    return this.fixedWhy.get(this.find(a));
  }

  lossyReason(a: number): string | undefined {
    return this.lossyWhy.get(this.find(a));
  }
}
