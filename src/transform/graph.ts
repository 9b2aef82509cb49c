/** The model DAG: cycle detection that prints the whole cycle, and a deterministic build order. */
import { ModelError } from '../errors.js';

interface GraphNode {
  dependsOn: readonly string[];
}

/**
 * A cycle in data-flow order (`a → b → a`: a feeds b, b feeds a), starting at its smallest id,
 * or undefined. Deterministic: nodes and edges are walked in sorted order.
 */
export function findCycle(nodes: ReadonlyMap<string, GraphNode>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    state.set(id, 'open');
    stack.push(id);
    for (const dep of [...(nodes.get(id)?.dependsOn ?? [])].sort()) {
      if (!nodes.has(dep)) continue;
      const s = state.get(dep);
      if (s === 'open') {
        // stack from dep to id: each depends on the next; data flows the other way.
        const loop = stack.slice(stack.indexOf(dep)).reverse();
        const start = loop.indexOf([...loop].sort()[0]!);
        const rotated = [...loop.slice(start), ...loop.slice(0, start)];
        return [...rotated, rotated[0]!];
      }
      if (s === undefined) {
        const found = visit(dep);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const id of [...nodes.keys()].sort()) {
    if (state.has(id)) continue;
    const found = visit(id);
    if (found) return found;
  }
  return undefined;
}

/** Throws `ModelError('CYCLE', 'cycle: staging.a → trusted.b → staging.a')` when there is one. */
export function assertAcyclic(nodes: ReadonlyMap<string, GraphNode>): void {
  const cycle = findCycle(nodes);
  if (cycle) throw new ModelError('CYCLE', `cycle: ${cycle.join(' → ')}`);
}

/**
 * Every node id, each after all of its dependencies; among the ready ones, ids in sorted order.
 * `topoOrder(project)` → `['seeds.stores', 'staging.stg_orders', 'marts.fct_orders', …]`.
 */
export function topoOrder(project: { nodes: ReadonlyMap<string, GraphNode> }): string[] {
  const { nodes } = project;
  assertAcyclic(nodes);
  const waiting = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const [id, node] of nodes) {
    const deps = new Set(node.dependsOn.filter((d) => nodes.has(d)));
    waiting.set(id, deps.size);
    for (const dep of deps) dependents.set(dep, [...(dependents.get(dep) ?? []), id]);
  }
  const ready = [...waiting].filter(([, n]) => n === 0).map(([id]) => id).sort();
  const order: string[] = [];
  while (ready.length > 0) {
    const id = ready.shift()!;
    order.push(id);
    for (const next of dependents.get(id) ?? []) {
      const left = waiting.get(next)! - 1;
      waiting.set(next, left);
      if (left === 0) {
        const at = ready.findIndex((r) => r > next);
        ready.splice(at === -1 ? ready.length : at, 0, next);
      }
    }
  }
  return order;
}
