/** Paths of in-repo test fixtures (tests run from dist/test/...). */
import * as path from 'node:path';

/** The repository root. */
export const ROOT = path.resolve(__dirname, '..', '..', '..');

/** A file under test/fixtures. */
export function fixture(...parts: string[]): string {
  return path.join(ROOT, 'test', 'fixtures', ...parts);
}

/** A Kamailio capture under test/fixtures/vectors (copies of the lab vectors). */
export function vector(...parts: string[]): string {
  return fixture('vectors', ...parts);
}
