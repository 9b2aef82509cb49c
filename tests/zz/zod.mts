import { z } from 'zod';
const schema = z.object({
  id: z.number().int(), sku: z.string(), name: z.string(), store: z.string(),
  price: z.number(), list_price: z.number(), available: z.boolean(), updated_at: z.iso.datetime(),
});
const recs = [];
for (let id = 1; id <= 250000; id++) recs.push(JSON.parse(JSON.stringify({ id, sku: `SKU-${id}`, name: `Produto ${id} 395g`, store: id % 3 === 0 ? 'bistek' : 'giassi', price: Math.round(id * 7.3) / 100, list_price: Math.round(id * 8.1) / 100, available: id % 7 !== 0, updated_at: new Date(Date.UTC(2026, 2, 5, 12, 0, id % 60)).toISOString() })));
for (let r = 0; r < 3; r++) {
  let t = performance.now(); let n = 0;
  for (const x of recs) if (schema.safeParse(x).success) n++;
  console.log('zod', (performance.now() - t).toFixed(0), 'ms', n);
  t = performance.now();
  const s = JSON.stringify(recs); const p = JSON.parse(s);
  console.log('stringify+parse', (performance.now() - t).toFixed(0), 'ms', p.length);
}
