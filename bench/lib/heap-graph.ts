// A V8 heap snapshot (.heapsnapshot JSON) as a graph: what closures cost per source file, and the largest objects.

/** The parts of a `.heapsnapshot` file this reads. */
export interface HeapSnapshotFile {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_fields: string[];
      edge_types: [string[], ...unknown[]];
      location_fields: string[];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
  locations: number[];
}

/** One edge: its type, its name (or index) and the node it points to. */
interface Edge {
  type: string;
  name: string | number;
  to: number;
}

/** What a closure's code costs besides the closure: counted once, with the closure that reaches it first. */
const CODE_PARTS =
  /ScopeInfo|BytecodeArray|UncompiledData|PreparseData|FeedbackMetadata|FeedbackVector|ClosureFeedbackCellArray/;

export class HeapGraph {
  private readonly s: HeapSnapshotFile;
  private readonly nodeFields: number;
  private readonly edgeFields: number;
  private readonly firstEdge: Uint32Array;
  private readonly field: Record<
    'type' | 'name' | 'size' | 'edges' | 'edgeType' | 'edgeName' | 'edgeTo',
    number
  >;

  constructor(snapshot: HeapSnapshotFile) {
    this.s = snapshot;
    const m = snapshot.snapshot.meta;
    this.nodeFields = m.node_fields.length;
    this.edgeFields = m.edge_fields.length;
    this.field = {
      type: m.node_fields.indexOf('type'),
      name: m.node_fields.indexOf('name'),
      size: m.node_fields.indexOf('self_size'),
      edges: m.node_fields.indexOf('edge_count'),
      edgeType: m.edge_fields.indexOf('type'),
      edgeName: m.edge_fields.indexOf('name_or_index'),
      edgeTo: m.edge_fields.indexOf('to_node'),
    };
    const count = snapshot.nodes.length / this.nodeFields;
    this.firstEdge = new Uint32Array(count + 1);
    for (let i = 0, e = 0; i < count; i++) {
      this.firstEdge[i] = e;
      e += snapshot.nodes[i * this.nodeFields + this.field.edges] * this.edgeFields;
    }
    this.firstEdge[count] = snapshot.edges.length;
  }

  get nodeCount(): number {
    return this.firstEdge.length - 1;
  }

  type(node: number): string {
    return this.s.snapshot.meta.node_types[0][this.s.nodes[node * this.nodeFields + this.field.type]];
  }

  name(node: number): string {
    return this.s.strings[this.s.nodes[node * this.nodeFields + this.field.name]];
  }

  size(node: number): number {
    return this.s.nodes[node * this.nodeFields + this.field.size];
  }

  *edges(node: number): Generator<Edge> {
    const types = this.s.snapshot.meta.edge_types[0];
    for (let e = this.firstEdge[node]; e < this.firstEdge[node + 1]; e += this.edgeFields) {
      const type = types[this.s.edges[e + this.field.edgeType]];
      const raw = this.s.edges[e + this.field.edgeName];
      const name = type === 'element' || type === 'hidden' ? raw : this.s.strings[raw];
      yield { type, name, to: this.s.edges[e + this.field.edgeTo] / this.nodeFields };
    }
  }

  private child(node: number, name: string): number | undefined {
    for (const e of this.edges(node)) if (e.name === name) return e.to;
    return undefined;
  }

  totalSelfSize(): number {
    let sum = 0;
    for (let i = 0; i < this.nodeCount; i++) sum += this.size(i);
    return sum;
  }

  /**
   * Bytes of every closure with a source location, with its function info, scope info, bytecode and
   * feedback (each counted once), by the source `nameOf` gives for its script, line and column.
   */
  closureCostBySource(nameOf: (script: string, line: number, column: number) => string): Map<string, number> {
    const fields = this.s.snapshot.meta.location_fields.length;
    const counted = new Set<number>();
    const out = new Map<string, number>();
    for (let k = 0; k < this.s.locations.length; k += fields) {
      const node = this.s.locations[k] / this.nodeFields;
      if (this.type(node) !== 'closure') continue;
      const shared = this.child(node, 'shared');
      const scriptNode = shared === undefined ? undefined : this.child(shared, 'script');
      const scriptName = scriptNode === undefined ? undefined : this.child(scriptNode, 'name');
      const script = scriptName === undefined ? '(no script)' : this.name(scriptName);
      const source = nameOf(script, this.s.locations[k + 2], this.s.locations[k + 3]);
      let bytes = this.size(node);
      for (const part of [shared, this.child(node, 'feedback_cell')]) {
        if (part === undefined || counted.has(part)) continue;
        counted.add(part);
        bytes += this.size(part);
        for (const e of this.edges(part))
          if (!counted.has(e.to) && CODE_PARTS.test(this.name(e.to))) {
            counted.add(e.to);
            bytes += this.size(e.to);
          }
      }
      out.set(source, (out.get(source) ?? 0) + bytes);
    }
    return out;
  }

  /** The `n` largest nodes, one line each: KB, type and name, and the first path (up to 4 steps) that reaches it. */
  largestObjects(n: number): string[] {
    const parent = new Int32Array(this.nodeCount).fill(-1);
    const via: (string | number)[] = new Array(this.nodeCount);
    for (let i = 0; i < this.nodeCount; i++)
      for (const e of this.edges(i))
        if (parent[e.to] < 0) {
          parent[e.to] = i;
          via[e.to] = e.name;
        }
    const label = (i: number) => `${this.type(i)} ${this.name(i).slice(0, 50).replace(/\s+/g, ' ')}`;
    const order = [...Array(this.nodeCount).keys()].sort((a, b) => this.size(b) - this.size(a)).slice(0, n);
    return order.map((i) => {
      const path: string[] = [];
      for (let p = i; parent[p] >= 0 && path.length < 4; p = parent[p])
        path.push(`${via[p]} <- ${label(parent[p])}`);
      return `${(this.size(i) / 1e3).toFixed(0).padStart(6)}  ${label(i)}  |  ${path.join(' | ')}`;
    });
  }
}
