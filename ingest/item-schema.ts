import { z } from 'zod';
import { CLASSIFICATIONS, type ItemMetadata, RETENTIONS, SHARING_SCOPES } from '../core/index.ts';

/** Item ids are URL-safe and usable as a folder name: lower-case letters, digits, - and _. */
export const ITEM_ID = /^[0-9a-z][0-9a-z_-]{5,63}$/;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** One path component the store will create: no separators, no control characters, not hidden. */
export function isSafeComponent(name: string): boolean {
  return (
    name.length > 0 &&
    Buffer.byteLength(name) <= 240 &&
    name === name.normalize('NFC') &&
    !name.startsWith('.') &&
    !/[/\\]/.test(name) &&
    // eslint-disable-next-line no-control-regex
    !/[\u0000-\u001f\u007f]/.test(name) &&
    !LONE_SURROGATE.test(name)
  );
}

const text = (max: number) => z.string().max(max);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

/** item.json as the store accepts and reads it; unknown keys are refused so typos do not persist. */
export const itemMetadataSchema = z
  .object({
    formatVersion: z.number().int().positive().optional(),
    itemId: z.string().regex(ITEM_ID),
    archivalCode: text(80).optional(),
    fonds: text(16).optional(),
    year: z.number().int().min(1000).max(9999).optional(),
    retention: z.enum(RETENTIONS).optional(),
    department: text(16).optional(),
    itemNo: z.number().int().positive().optional(),
    title: text(2000).optional(),
    docNumber: text(200).optional(),
    responsible: text(500).optional(),
    date: text(40).optional(),
    classification: z.enum(CLASSIFICATIONS),
    posts: z.array(z.string().min(1).max(64)).max(500),
    pageCount: z.number().int().min(1).max(100_000),
    originals: z.array(z.object({ name: z.string().refine(isSafeComponent, 'unsafe file name'), sha256, bytes: z.number().int().min(0) }).strict()).min(1),
    createdAt: z.string().min(1),
    updatedAt: z.string().min(1),
    cataloguePending: z.literal(true).optional(),
    sharing: z.enum(SHARING_SCOPES).optional(),
    reviewPages: z.array(z.number().int().min(1).max(100_000)).max(100_000).optional(),
  })
  .strict();

/** Validate metadata, with every problem in one Chinese message. */
export function checkItemMetadata(value: unknown): { ok: true; value: ItemMetadata } | { ok: false; problems: string[] } {
  const r = itemMetadataSchema.safeParse(value);
  if (r.success) return { ok: true, value: r.data as ItemMetadata };
  return { ok: false, problems: r.error.issues.map((i) => `${i.path.join('.') || '(item.json)'}: ${i.message}`) };
}
