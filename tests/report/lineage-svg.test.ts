/**
 * The report's lineage picture (laid out in Node): bands per schema, the bronze sources apart.
 */
import { describe, expect, it } from 'vitest';
import { lineageSvg } from '../../src/report/lineage-svg.js';

describe('lineageSvg', () => {
  it('keeps a schema folder named "sources" apart from the bronze sources band', () => {
    const { svg, nodes, edges } = lineageSvg({
      nodes: [
        { id: 'source:shop.orders', schema: 'shop', name: 'orders', kind: 'source', materialized: null, file: null },
        { id: 'sources.list', schema: 'sources', name: 'list', kind: 'model', materialized: 'table', file: 'models/sources/list.sql' },
        { id: 'sources.more', schema: 'sources', name: 'more', kind: 'model', materialized: 'table', file: 'models/sources/more.sql' },
      ],
      edges: [{ from: 'source:shop.orders', to: 'sources.list' }],
    });
    expect({ nodes, edges }).toEqual({ nodes: 3, edges: 1 });
    const headers = [...svg.matchAll(/font-weight="600"[^>]*>([^<]*)</g)].map((m) => m[1]);
    // Observed: one band "sources (3)" holding the bronze dataset and both models (Mermaid keeps them apart).
    expect(headers).toEqual(['sources (1)', 'sources (2)']);
  });
});
