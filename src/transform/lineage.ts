/** Lineage: models, seeds and the bronze sources they read, as nodes and edges, and as Mermaid. */
import type { Materialization } from './model-config.js';
import type { Project } from './project.js';

export interface LineageNode {
  /** `schema.name`, or `source:vtex.products` for a bronze dataset. */
  id: string;
  schema: string;
  name: string;
  kind: 'model' | 'seed' | 'source';
  /** null for sources; seeds are `table`. */
  materialized: Materialization | null;
  /** `models/marts/orders.sql` (the models folder's own name first); null for sources. */
  file: string | null;
  description?: string;
}

export interface LineageEdge {
  /** Upstream id (what is read). */
  from: string;
  /** Downstream id (what reads it). */
  to: string;
}

export interface Lineage {
  nodes: LineageNode[];
  edges: LineageEdge[];
}

/** Enabled models and seeds plus every source they read; edges point downstream. Sorted, stable. */
export function lineageOf(project: Pick<Project, 'nodes'>): Lineage {
  const nodes = new Map<string, LineageNode>();
  const edges = new Map<string, LineageEdge>();
  const enabled = [...project.nodes.values()].filter((n) => n.kind !== 'assertion' && n.config.enabled);
  for (const node of enabled) {
    const item: LineageNode = { id: node.id, schema: node.schema, name: node.name, kind: node.kind === 'seed' ? 'seed' : 'model', materialized: node.config.materialized, file: node.displayPath };
    if (node.description) item.description = node.description;
    nodes.set(node.id, item);
    for (const dep of node.dependsOn) edges.set(`${dep}\u0000${node.id}`, { from: dep, to: node.id });
    for (const use of node.sources) {
      const id = `source:${use.source}.${use.dataset}`;
      nodes.set(id, { id, schema: use.source, name: use.dataset, kind: 'source', materialized: null, file: null });
      edges.set(`${id}\u0000${node.id}`, { from: id, to: node.id });
    }
  }
  const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  return {
    nodes: [...nodes.values()].sort(byId),
    edges: [...edges.values()].sort((a, b) => byId({ id: `${a.from}\u0000${a.to}` }, { id: `${b.from}\u0000${b.to}` })),
  };
}

const SHAPES: Record<string, [string, string]> = {
  source: ['[(', ')]'],
  seed: ['[/', '/]'],
  view: ['(', ')'],
  table: ['[', ']'],
  incremental: ['[[', ']]'],
  ephemeral: ['{{', '}}'],
};

/**
 * A Mermaid `graph LR`, one subgraph per schema (sources together): sources as cylinders, seeds as
 * parallelograms, views rounded, tables square, incremental double-edged, ephemerals hexagons.
 */
export function toMermaid(lineage: Lineage): string {
  const ids = new Map<string, string>();
  const used = new Set<string>();
  for (const node of lineage.nodes) {
    const base = `n_${node.id.replace(/[^A-Za-z0-9_]/g, '_')}`;
    let safe = base;
    for (let i = 2; used.has(safe); i++) safe = `${base}_${i}`;
    used.add(safe);
    ids.set(node.id, safe);
  }
  const label = (text: string) => `"${text.replace(/"/g, '#quot;')}"`;
  const groups = new Map<string, typeof lineage.nodes>();
  for (const node of lineage.nodes) {
    // Bronze sources under a key no schema can have ('' — a schema folder named `sources` is a schema).
    const group = node.kind === 'source' ? '' : node.schema;
    groups.set(group, [...(groups.get(group) ?? []), node]);
  }
  const lines = ['graph LR'];
  for (const [group, members] of [...groups].sort(([a], [b]) => (a < b ? -1 : 1))) {
    // Schemas' ids are `g_<schema>` and nodes' `n_…`: `bronze_sources` is none of them (`g__bronze`
    // was the id of a schema folder named `_bronze`, and Mermaid merged the two subgraphs).
    lines.push(group === '' ? `  subgraph bronze_sources[${label('sources')}]` : `  subgraph g_${group.replace(/[^A-Za-z0-9_]/g, '_')}[${label(group)}]`);
    for (const node of members) {
      const [open, close] = SHAPES[node.kind === 'model' ? (node.materialized ?? 'table') : node.kind]!;
      const text = node.kind === 'source' ? `${node.schema}.${node.name}` : node.name;
      lines.push(`    ${ids.get(node.id)}${open}${label(text)}${close}`);
    }
    lines.push('  end');
  }
  for (const edge of lineage.edges) {
    const from = ids.get(edge.from);
    const to = ids.get(edge.to);
    if (from && to) lines.push(`  ${from} --> ${to}`);
  }
  return `${lines.join('\n')}\n`;
}
