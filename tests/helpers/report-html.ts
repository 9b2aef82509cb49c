import { expect } from 'vitest';

/** The HTML of one section of a report page, by id (the section must be there). */
export function section(page: string, id: string): string {
  const start = page.indexOf(`<section id="${id}"`);
  expect(start, `section ${id}`).toBeGreaterThanOrEqual(0);
  return page.slice(start, page.indexOf('</section>', start));
}
