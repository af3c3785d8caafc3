import { ApplianceError } from '../core/index.ts';

/**
 * A file name as received (upload field, CSV cell) reduced to a safe single path component.
 * Traversal (`../x.jpg`, `/etc/x`, `a\\..\\b`) is refused, not repaired: a name like that is a sign
 * of a mistake or an attack, and the archivist should know which file it was.
 */
export function safeFileName(received: string): string {
  const name = received.normalize('NFC');
  const parts = name.split(/[\\/]/);
  if (parts.some((p) => p === '..') || name.startsWith('/') || /^[a-zA-Z]:/.test(name)) {
    throw new ApplianceError('UNSAFE_FILE_NAME', `文件名含有路径跳转，已拒绝：${received}`, `unsafe file name refused: ${received}`, { details: { name: received } });
  }
  const base = parts[parts.length - 1] ?? '';
  // eslint-disable-next-line no-control-regex
  const cleaned = base.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  if (!cleaned || cleaned === '.' || cleaned.length > 200 || Buffer.byteLength(cleaned) > 240) {
    throw new ApplianceError('UNSAFE_FILE_NAME', `文件名无效：${JSON.stringify(received)}`, `invalid file name: ${JSON.stringify(received)}`, { details: { name: received } });
  }
  return cleaned.startsWith('.') ? `_${cleaned}` : cleaned;
}
