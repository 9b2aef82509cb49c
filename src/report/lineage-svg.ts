/**
 * The lineage graph as a static SVG laid out here (no Mermaid JS): one band of columns per
 * schema, left to right (sources → staging → trusted → marts, other schemas where their depth
 * puts them), a column per dependency depth inside a band, rows ordered by the barycenter of
 * each node's upstream nodes so edges cross less. Boxes are nodes, curves are edges.
 */
import type { Lineage, LineageNode } from '../transform/lineage.js';
import { esc } from './html.js';

/** The band of bronze sources: a key no schema can have (a schema folder may be named `sources`). */
const SOURCES = '';
const KNOWN = [SOURCES, 'seeds', 'staging', 'intermediate', 'trusted', 'marts', 'audit'];
const COLORS: Record<string, [fill: string, stroke: string]> = {
  [SOURCES]: ['#fff4e5', '#f58518'],
  seeds: ['#f3e8f5', '#b279a2'],
  staging: ['#e8f1fa', '#4c78a8'],
  intermediate: ['#e6f4f3', '#72b7b2'],
  trusted: ['#e9f5e7', '#54a24b'],
  marts: ['#fdecec', '#e45756'],
};
const OTHER: [string, string] = ['#f1f3f5', '#7b8794'];

const BOX_W = 184;
const BOX_H = 24;
const COL_GAP = 56;
const ROW_H = 32;
const TOP = 40;
const LEFT = 12;
const CHAR_W = 6.1;

function groupOf(node: LineageNode): string {
  return node.kind === 'source' ? SOURCES : node.schema;
}

function labelOf(node: LineageNode): string {
  return node.kind === 'source' ? `${node.schema}.${node.name}` : node.name;
}

function clip(text: string, width: number): string {
  const max = Math.floor(width / CHAR_W);
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Longest path from any root, over `edges` restricted to `ids` (cycles are cut, not followed). */
function depths(ids: string[], upstream: Map<string, string[]>): Map<string, number> {
  const inSet = new Set(ids);
  const memo = new Map<string, number>();
  const visiting = new Set<string>();
  const depth = (id: string): number => {
    const known = memo.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0;
    visiting.add(id);
    const parents = (upstream.get(id) ?? []).filter((p) => inSet.has(p));
    const d = parents.length === 0 ? 0 : 1 + Math.max(...parents.map(depth));
    visiting.delete(id);
    memo.set(id, d);
    return d;
  };
  for (const id of ids) depth(id);
  return memo;
}

/** Group order: known schemas in their fixed order, other schemas placed by their mean depth. */
function orderGroups(groups: Map<string, LineageNode[]>, depth: Map<string, number>): string[] {
  const mean = (g: string) => {
    const members = groups.get(g) ?? [];
    return members.reduce((s, n) => s + (depth.get(n.id) ?? 0), 0) / Math.max(1, members.length);
  };
  const order = [...groups.keys()].filter((g) => KNOWN.includes(g)).sort((a, b) => KNOWN.indexOf(a) - KNOWN.indexOf(b));
  for (const g of [...groups.keys()].filter((x) => !KNOWN.includes(x)).sort()) {
    const at = order.findIndex((k) => mean(k) > mean(g));
    order.splice(at === -1 ? order.length : at, 0, g);
  }
  return order;
}

export interface LineageSvg {
  svg: string;
  nodes: number;
  edges: number;
}

/**
 * Lays out and draws the lineage; every label is escaped.
 * @example
 * const { svg } = lineageSvg(await lake.lineage());
 */
export function lineageSvg(lineage: Lineage): LineageSvg {
  const byId = new Map(lineage.nodes.map((n) => [n.id, n]));
  const edges = lineage.edges.filter((e) => byId.has(e.from) && byId.has(e.to));
  const upstream = new Map<string, string[]>();
  for (const e of edges) upstream.set(e.to, [...(upstream.get(e.to) ?? []), e.from]);

  const globalDepth = depths([...byId.keys()], upstream);
  const groups = new Map<string, LineageNode[]>();
  for (const node of lineage.nodes) groups.set(groupOf(node), [...(groups.get(groupOf(node)) ?? []), node]);
  const order = orderGroups(groups, globalDepth);

  // Columns: per group, one per depth inside the group.
  const columns: { group: string; ids: string[] }[] = [];
  for (const group of order) {
    const members = groups.get(group)!;
    const local = depths(members.map((n) => n.id), upstream);
    const width = Math.max(...members.map((n) => local.get(n.id) ?? 0)) + 1;
    for (let d = 0; d < width; d++) columns.push({ group, ids: members.filter((n) => (local.get(n.id) ?? 0) === d).map((n) => n.id) });
  }

  // Rows: each node as close as it can get to the mean row of its upstream nodes, no overlaps.
  const row = new Map<string, number>();
  for (const column of columns) {
    const ideal = new Map<string, number>();
    for (const id of column.ids) {
      const placed = (upstream.get(id) ?? []).map((p) => row.get(p)).filter((r): r is number => r !== undefined);
      ideal.set(id, placed.length > 0 ? placed.reduce((s, r) => s + r, 0) / placed.length : Number.POSITIVE_INFINITY);
    }
    const sorted = [...column.ids].sort((a, b) => ideal.get(a)! - ideal.get(b)! || (a < b ? -1 : a > b ? 1 : 0));
    let next = 0;
    for (const id of sorted) {
      const want = ideal.get(id)!;
      const r = Number.isFinite(want) ? Math.max(next, Math.round(want)) : next;
      row.set(id, r);
      next = r + 1;
    }
  }

  const x = new Map<string, number>();
  columns.forEach((column, i) => column.ids.forEach((id) => x.set(id, LEFT + i * (BOX_W + COL_GAP))));
  const rows = Math.max(1, ...[...row.values()].map((r) => r + 1));
  const width = LEFT * 2 + columns.length * BOX_W + Math.max(0, columns.length - 1) * COL_GAP;
  const height = TOP + rows * ROW_H + 8;
  const yOf = (id: string) => TOP + (row.get(id) ?? 0) * ROW_H;

  const parts: string[] = [];
  // Bands and headers, one per group.
  let col = 0;
  for (const group of order) {
    const span = columns.filter((c) => c.group === group).length;
    const bx = LEFT + col * (BOX_W + COL_GAP) - 8;
    const bw = span * BOX_W + (span - 1) * COL_GAP + 16;
    const [, stroke] = COLORS[group] ?? OTHER;
    parts.push(`<rect x="${bx}" y="4" width="${bw}" height="${height - 8}" rx="8" fill="#fafbfc" stroke="#e4e7eb"/>`);
    parts.push(`<text x="${bx + 10}" y="24" font-size="12" font-weight="600" fill="${stroke}">${esc(group === SOURCES ? 'sources' : group)} (${groups.get(group)!.length})</text>`);
    col += span;
  }
  const edgeParts = edges.map((e) => {
    const x1 = x.get(e.from)! + BOX_W;
    const y1 = yOf(e.from) + BOX_H / 2;
    const x2 = x.get(e.to)!;
    const y2 = yOf(e.to) + BOX_H / 2;
    const bend = Math.max(24, Math.abs(x2 - x1) / 2);
    return `<path d="M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}" fill="none" stroke="#9aa5b1" stroke-width="1" stroke-opacity="0.7"><title>${esc(`${e.from} → ${e.to}`)}</title></path>`;
  });
  const nodeParts = lineage.nodes.map((node) => {
    const [fill, stroke] = COLORS[groupOf(node)] ?? OTHER;
    const nx = x.get(node.id)!;
    const ny = yOf(node.id);
    const detail = [node.id, node.kind === 'model' ? node.materialized : node.kind, node.file, node.description].filter(Boolean).join('\n');
    const dash = node.materialized === 'view' || node.materialized === 'ephemeral' ? ' stroke-dasharray="4 2"' : '';
    return `<g><title>${esc(detail)}</title><rect x="${nx}" y="${ny}" width="${BOX_W}" height="${BOX_H}" rx="${node.kind === 'source' ? 10 : 3}" fill="${fill}" stroke="${stroke}"${dash}/><text x="${nx + 8}" y="${ny + 16}" font-size="11" fill="#1f2933">${esc(clip(labelOf(node), BOX_W - 14))}</text></g>`;
  });
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="lineage" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif" role="img" aria-label="lineage graph">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...parts,
    `<g class="role-mark lineage-edges">${edgeParts.join('')}</g>`,
    `<g class="role-mark lineage-nodes">${nodeParts.join('')}</g>`,
    '</svg>',
  ].join('\n');
  return { svg, nodes: lineage.nodes.length, edges: edges.length };
}
