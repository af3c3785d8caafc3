import { ApplianceError } from './errors.ts';

/**
 * The version of each on-disk format this program writes (docs/FORMATS.md). A file without a
 * version field was written before versions existed and is version 1. A newer version than the one
 * named here is refused with a clear error rather than read wrongly: upgrade the program first.
 */
export const FORMAT_VERSIONS = {
  'item.json': 1,
  'text.json': 1,
  'job.json': 1,
} as const;

export type VersionedFormat = keyof typeof FORMAT_VERSIONS;

/** The format version a parsed file declares (1 when absent); throws when this program cannot read it. */
export function checkFormatVersion(format: VersionedFormat, found: unknown, where: string): number {
  const v = found === undefined ? 1 : found;
  const supported = FORMAT_VERSIONS[format];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new ApplianceError('FORMAT_INVALID', `${where} 的格式版本号无效（${String(found)}）。`, `${where}: invalid ${format} formatVersion ${String(found)}`, { status: 500 });
  }
  if (v > supported) {
    throw new ApplianceError(
      'FORMAT_TOO_NEW',
      `${where} 是较新版本的格式（${format} 第 ${v} 版，本程序只能读到第 ${supported} 版）：请先升级本程序再读取，数据未作任何改动。`,
      `${where}: ${format} version ${v} is newer than this program reads (${supported})`,
      { status: 500, details: { format, found: v, supported } },
    );
  }
  return v;
}
