import { describe, expect, it } from 'vitest';
import { meiliLineLevel, plainLine } from '../../appliance/meili-supervisor.ts';

/** Lines as Meilisearch 1.21 writes them (coloured for a terminal). */
const traced = (level: string, text: string) => `\x1b[2m2026-11-24T10:38:10.355287Z\x1b[0m \x1b[33m ${level}\x1b[0m \x1b[2mtracing_actix_web::middleware\x1b[0m\x1b[2m:\x1b[0m ${text}`;
const notFound = (what: string, code: string) =>
  traced('WARN', `Error encountered while processing the incoming HTTP request: ResponseError { code: 404, message: "${what} not found.", error_code: "${code}", error_type: "invalid_request" }`);

describe('Meilisearch output in the appliance log', () => {
  it('demotes the start-up banner and its links to debug', () => {
    for (const line of [
      '888b     d888          d8b 888 d8b                                            888',
      '888   "   888 Y8b.     888 888 888      X88 Y8b.     888  888 888    Y88b.    888  888',
      'Database path:\t\t"/srv/archive/meili/data.ms"',
      'Package version:\t"1.21.0"',
      "A master key has been set. Requests to Meilisearch won't be authorized unless you provide an authentication key.",
      'Check out Meilisearch Cloud!\thttps://www.meilisearch.com/cloud?utm_campaign=oss&utm_source=engine&utm_medium=cli',
      'Discord:\t\t\thttps://discord.meilisearch.com',
    ])
      expect(meiliLineLevel(plainLine(line)), line).toBe('debug');
  });

  it('demotes the 404s of the first-start lookups, strips colours', () => {
    expect(plainLine(notFound('Index `items`', 'index_not_found'))).toMatch(/^2026-11-24T10:38:10\.355287Z  WARN tracing_actix_web/);
    expect(meiliLineLevel(plainLine(notFound('Index `items`', 'index_not_found')))).toBe('debug');
    expect(meiliLineLevel(plainLine(notFound('API key `4aee744e`', 'api_key_not_found')))).toBe('debug');
  });

  it('keeps real warnings, errors and anything unrecognised loud', () => {
    expect(meiliLineLevel(plainLine(notFound('Document `x`', 'document_not_found')))).toBe('warn');
    expect(meiliLineLevel(plainLine(traced('WARN', 'index scheduler: disk almost full')))).toBe('warn');
    expect(meiliLineLevel(plainLine(traced('ERROR', 'index_scheduler: Batch failed: No space left on device (os error 28)')))).toBe('error');
    expect(meiliLineLevel("thread 'main' panicked at crates/meilisearch/src/main.rs:42:5:")).toBe('warn');
    expect(meiliLineLevel('Error: Address already in use (os error 98)')).toBe('warn');
  });
});
