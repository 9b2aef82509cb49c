/**
 * The Brazilian format helpers: money and numbers as stores print them, and pack sizes from
 * product names, checked against the SQL macro the models use (models/macros/pack_size.sql),
 * built by the real engine, so a pack size read while scraping and one computed by
 * `tru_product` agree.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseBrl, parseBrNumber, parsePackSize, type PackSize, type PackSizeHints } from '../../src/extract/brazil.js';
import { tempDir, tempLake } from '../helpers/temp-lake.js';

const MODELS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../models');

describe('parseBrl', () => {
  it.each([
    ['R$ 1.234,56', 1234.56],
    ['R$1.234', 1234],
    ['1.234,5', 1234.5],
    ['-R$ 3,00', -3],
    ['R$ -3,00', -3],
    ['R$\u00a012,90', 12.9], // Intl.NumberFormat('pt-BR') puts a non-breaking space there
    ['R$\u202f12,90', 12.9],
    ['  r$ 0,99 ', 0.99],
    ['R$ 1.299.990,00', 1299990],
    ['R$ 5', 5],
    ['12,9', 12.9],
    ['7', 7],
    [8.5, 8.5],
  ] as const)('%j → %d', (text, value) => {
    expect(parseBrl(text)).toBe(value);
  });

  it.each([['R$'], [''], ['abc'], ['R$ 8,'], ['R$ 1,234.56'], ['por R$ 8,00'], ['R$ 8,00 cada'], ['-R$ -3'], ['R$ 12.34.5'], ['US$ 5,00'], [null], [undefined], [Number.NaN], [{}]])(
    '%j → null',
    (text) => {
      expect(parseBrl(text)).toBeNull();
    },
  );
});

describe('parseBrNumber', () => {
  it.each([
    ['1.234,56', 1234.56],
    ['1.234', 1234], // a dot before three digits is a thousands separator
    ['1.234.567', 1234567],
    ['1,5', 1.5],
    ['1.5', 1.5], // otherwise a decimal point
    ['0,001', 0.001],
    ['-2,50', -2.5],
    ['+3', 3],
    ['\u22124,0', -4],
    [' 12 ', 12],
    ['1\u00a0234,5', 1234.5],
  ] as const)('%j → %d', (text, value) => {
    expect(parseBrNumber(text)).toBe(value);
  });

  it.each([[''], ['1,234.56'], ['12a'], ['1.23.4'], [','], ['1,'], ['R$ 3'], [null]])('%j → null', (text) => {
    expect(parseBrNumber(text)).toBeNull();
  });
});

describe('parsePackSize', () => {
  it.each([
    ['Leite Condensado Moça 12x395g', { packQty: 12, unit: 'kg', netAmount: 4.74 }],
    ['Refrigerante Coca-Cola 2L', { packQty: 1, unit: 'l', netAmount: 2 }],
    ['Leite Integral Tirol 6x1L', { packQty: 6, unit: 'l', netAmount: 6 }],
    ['Sabão em Pó 1,5kg', { packQty: 1, unit: 'kg', netAmount: 1.5 }],
    ['Macarrão Renata 500 g', { packQty: 1, unit: 'kg', netAmount: 0.5 }],
    ['Suco Del Valle 200ml', { packQty: 1, unit: 'l', netAmount: 0.2 }],
    ['Papel Higiênico Neve 12 rolos', { packQty: 12, unit: 'un', netAmount: 12 }],
    ['Ovos Brancos 12un', { packQty: 12, unit: 'un', netAmount: 12 }],
    ['Cerveja Skol Lata 350ml c/ 12', { packQty: 12, unit: 'l', netAmount: 4.2 }],
    ['Chá Leão Camomila 10 Sachês 15g', { packQty: 10, unit: 'kg', netAmount: 0.015 }],
    ['Farinha de Trigo 1.000g', { packQty: 1, unit: 'kg', netAmount: 1 }],
    ['Ovos Caipiras Meia Dúzia', { packQty: 6, unit: 'un', netAmount: 6 }],
    ['Picanha Bovina Kg', { packQty: 1, unit: 'kg', netAmount: 1 }],
    ['Café 3 Corações 500g', { packQty: 1, unit: 'kg', netAmount: 0.5 }],
    ['Kit 3 Sabonete Lux 85g', { packQty: 3, unit: 'kg', netAmount: 0.255 }],
    ['Sabonete Lux Leve 4, Pague 3 85g', { packQty: 4, unit: 'kg', netAmount: 0.34 }],
    ['Pilha Duracell AA c/ 4, Alcalina', { packQty: 4, unit: 'un', netAmount: 4 }],
    ['Fralda Huggies 1 Pacote com 42 Unidades', { packQty: 42, unit: 'un', netAmount: 42 }],
    ['Cerveja Skol 2 Pacotes com 12 Latas 350ml', { packQty: 24, unit: 'l', netAmount: 8.4 }],
  ] as [string, PackSize][])('%j', (name, pack) => {
    expect(parsePackSize(name)).toEqual(pack);
  });

  it('is null when the name has no size, and takes VTEX hints only then', () => {
    expect(parsePackSize('Vinho Tinto Miolo Seleção')).toBeNull();
    expect(parsePackSize('Lâmpada LED 9W 1 Lâmpada')).toBeNull();
    expect(parsePackSize('')).toBeNull();
    expect(parsePackSize(null)).toBeNull();
    expect(parsePackSize('Banana Prata', { measurementUnit: 'kg', unitMultiplier: 0.15 })).toEqual({ packQty: 1, unit: 'kg', netAmount: 0.15 });
    expect(parsePackSize('Queijo Prato 150g', { measurementUnit: 'kg', unitMultiplier: 0.2 })).toEqual({ packQty: 1, unit: 'kg', netAmount: 0.15 });
    expect(parsePackSize('Banana Prata', { measurementUnit: 'un', unitMultiplier: 1 })).toBeNull();
  });
});

/** Name shapes run through both implementations; hints are VTEX's measurementUnit/unitMultiplier. */
const SHAPES: [string, PackSizeHints?][] = [
  ['Leite Condensado Moça 12x395g'],
  ['Cerveja Heineken Long Neck 6 x 330 ml'],
  ['Leite Integral Italac 12 X 1 L'],
  ['Cerveja Brahma Chopp Lata 8x269ml'],
  ['Água Mineral Pack 12×500ml'],
  ['Sabonete Dove Original 6 un x 90g'],
  ['Iogurte Pack 3 x 90g'],
  ['Refrigerante Coca-Cola 2L'],
  ['Sabão em Pó Omo 1,6kg'],
  ['Macarrão Espaguete Renata 500 g'],
  ['Suco Del Valle Uva 200ML'],
  ['Amaciante Comfort Concentrado 1,5 L'],
  ['Refrigerante Guaraná 2 Litros'],
  ['Leite Integral Tirol 1 Litro'],
  ['Farinha de Trigo Dona Benta 1.000g'],
  ['Arroz Parboilizado 1.000kg'],
  ['Vitamina C 500mg'],
  ['Cerveja Importada 33cl'],
  ['Queijo Ralado 50 gramas'],
  ['Cerveja Skol Lata 350ml c/ 12'],
  ['Refrigerante Guaraná Antarctica Pet 2L c/6'],
  ['Cerveja Brahma Lata 350ml com 12 unidades'],
  ['Cerveja Itaipava 12 Latas de 350ml'],
  ['Kit 3 Sabonete Lux Suave 85g'],
  ['Kit com 2 Shampoo Seda 325ml'],
  ['Sabonete Lux Leve 6 Pague 5 85g'],
  ['Sabonete Lux Leve 4, Pague 3 85g'],
  ['Pilha Duracell AA c/ 4, Alcalina'],
  ['Sabão em Pó Omo 1,6kg, Lavagem Perfeita'],
  ['Cerveja Skol 2 Pacotes com 12 Latas 350ml'],
  ['Kit Churrasco Picanha 1kg'],
  ['Fralda Huggies 1 Pacote com 42 Unidades'],
  ['Kit 3 Escovas Dentais Oral-B'],
  ['Arroz 1 Pacote de 5kg'],
  ['Chá Leão Camomila 10 Sachês 15g'],
  ['Papel Toalha Snob 2 rolos 60 folhas'],
  ['Papel Higiênico Neve 12 rolos'],
  ['Ovos Brancos Mantiqueira 12un'],
  ['Esponja Multiuso Scotch-Brite 3 un.'],
  ['Fralda Pampers Confort Sec G 36 Unidades'],
  ['Pilha Duracell AA c/ 4'],
  ['Ovos Vermelhos 1 Dúzia'],
  ['Ovos Caipiras Korin Meia Dúzia'],
  ['Ovos 2 dúzias'],
  ['Ovos 1,5 dúzia'],
  ['Ovos Brancos Dúzia'],
  ['Picanha Bovina Resfriada Kg'],
  ['Tomate Italiano kg'],
  ['Café Torrado e Moído 3 Corações Tradicional 500g'],
  ['Chocolate Lacta 70% Cacau 80g'],
  ['Bala Mastigável 7Belo Morango 1 7g'],
  ['Refrigerante H2OH! Limão 500ml'],
  ['Whisky Johnnie Walker 12 Anos 1L'],
  ['Detergente 3 em 1 Ypê 500ml'],
  ['Lâmpada LED Philips 9W 1 Lâmpada'],
  ['Kit Cesta Básica Premium 20 itens'],
  ['Vinho Tinto Miolo Seleção Cabernet Sauvignon'],
  ["Biscoito D'Ajuda (350ml) pote"],
  [''],
  ['Banana Prata', { measurementUnit: 'kg', unitMultiplier: 0.15 }],
  ['Queijo Prato Fatiado', { measurementUnit: 'g', unitMultiplier: 200 }],
  ['Queijo Prato Fatiado 150g', { measurementUnit: 'kg', unitMultiplier: 0.2 }],
  ['Suco a Granel', { measurementUnit: 'ml', unitMultiplier: 300 }],
  ['Alface Crespa', { measurementUnit: 'un', unitMultiplier: 1 }],
];

describe('parsePackSize agrees with models/macros/pack_size.sql', () => {
  it(`gives the macro's answer on ${SHAPES.length} name shapes`, async () => {
    const dir = tempDir();
    const models = path.join(dir, 'models');
    fs.mkdirSync(path.join(models, 'macros'), { recursive: true });
    fs.mkdirSync(path.join(models, 'trusted'), { recursive: true });
    fs.copyFileSync(path.join(MODELS, 'macros', 'pack_size.sql'), path.join(models, 'macros', 'pack_size.sql'));
    const quote = (s: string | null | undefined): string => (s === null || s === undefined ? 'NULL' : `'${s.replace(/'/g, "''")}'`);
    const values = SHAPES.map(([name, hints], i) => `(${i}, ${quote(name)}, ${quote(hints?.measurementUnit)}, ${hints?.unitMultiplier ?? 'NULL'}::DOUBLE)`).join(',\n  ');
    fs.writeFileSync(
      path.join(models, 'trusted', 'pack_shapes.sql'),
      `select i, {{ pack_size('name', 'measurement_unit', 'unit_multiplier') }} as pack
from (values
  ${values}
) as t(i, name, measurement_unit, unit_multiplier)\n`,
    );
    const lake = await tempLake({ root: path.join(dir, 'data'), models });
    const build = await lake.build();
    expect(build.models.map((m) => [m.name, m.status, m.error])).toEqual([['trusted.pack_shapes', 'success', undefined]]);
    const rows = await lake.query<{ i: number; pack: { pack_qty: number; unit: string; net_amount: number; parsed_from: string } }>('select i, pack from trusted.pack_shapes order by i');
    const sql = rows.map(({ i, pack }) => [SHAPES[i]![0], pack.parsed_from === 'default' ? null : { packQty: pack.pack_qty, unit: pack.unit, netAmount: pack.net_amount }]);
    const ts = SHAPES.map(([name, hints]) => [name, parsePackSize(name, hints)]);
    expect(ts).toEqual(sql);
    // The table is not all defaults: most shapes carry a size.
    expect(ts.filter(([, p]) => p === null).length).toBeLessThan(6);
  }, 60_000);
});
