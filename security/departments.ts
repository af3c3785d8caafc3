import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ApplianceError, dataPath, writeFileAtomic } from '../core/index.ts';

/**
 * 机构代码→名称: the names of the 机构(问题)代码 used in 档号 (BGS → 办公室), kept by the secadmin in
 * config/departments.json (`{version: 1, names: {code: name}}`) and shown wherever a code would
 * be (search facets, hit lines). Items carry only the code (DA/T 22); a code without a name is
 * shown as the code.
 */
export interface DepartmentNames {
  version: 1;
  names: Record<string, string>;
}

export const departmentsPath = (dataDir: string) => dataPath(dataDir, 'config', 'departments.json');

const CODE = /^[A-Za-z0-9]{1,16}$/;
export const departmentNamesBody = z
  .object({
    names: z.record(z.string().max(32), z.string().max(64)),
  })
  .strict();

/** The table as saved; an absent file is an empty table, a damaged one an error (never silently empty). */
export async function readDepartmentNames(dataDir: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readFile(departmentsPath(dataDir), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
  try {
    const d = JSON.parse(text) as DepartmentNames;
    if (d.version !== 1 || typeof d.names !== 'object' || !d.names) throw new Error('bad shape');
    return Object.fromEntries(Object.entries(d.names).filter(([k, v]) => CODE.test(k) && typeof v === 'string'));
  } catch {
    throw new ApplianceError('DEPARTMENTS_CORRUPT', '机构名称表（config/departments.json）已损坏，请由安全保密管理员重新保存。', 'config/departments.json is damaged', { status: 500 });
  }
}

let generation = 0;

/**
 * The table for every search answer without a file read each time: kept for `ttlMs`, and dropped
 * at once when this process saves a new one (the secadmin's page); another process's write shows
 * within `ttlMs`.
 */
export function departmentNamesCache(dataDir: string, ttlMs = 5000): () => Promise<Record<string, string>> {
  let cached: { at: number; gen: number; names: Record<string, string> } | undefined;
  return async () => {
    const now = Date.now();
    if (cached && cached.gen === generation && now - cached.at < ttlMs) return cached.names;
    const gen = generation;
    const names = await readDepartmentNames(dataDir);
    cached = { at: now, gen, names };
    return names;
  };
}

/** Check and save the whole table (codes: letters and digits; empty names drop the code). */
export async function writeDepartmentNames(dataDir: string, names: Record<string, string>): Promise<Record<string, string>> {
  const bad = Object.keys(names).filter((k) => !CODE.test(k.trim()));
  if (bad.length) throw new ApplianceError('DEPARTMENT_CODE_INVALID', `机构代码只能由 1 到 16 个字母或数字组成：${bad.join('、')}`, `bad department codes: ${bad.join(', ')}`, { status: 400 });
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(names).sort(([a], [b]) => a.localeCompare(b))) if (v.trim()) clean[k.trim()] = v.trim();
  const doc: DepartmentNames = { version: 1, names: clean };
  await writeFileAtomic(departmentsPath(dataDir), `${JSON.stringify(doc, null, 1)}\n`);
  generation++;
  return clean;
}
