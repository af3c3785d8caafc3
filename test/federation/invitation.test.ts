import { readFile } from 'node:fs/promises';
import { join as joinPath } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../core/config.ts';
import { invite, join } from '../../federation/index.ts';
import { loadOrCreateIdentity } from '../../federation/identity.ts';
import { readSignedFile, signedFile, type InvitationBody } from '../../federation/invitation.ts';
import { peersPath } from '../../federation/peers.ts';
import { cleanup, tempDir } from '../support/appliance.ts';

/**
 * The invitation file's checks, each refusal before anything is made (no key, no peer, no reply):
 * the Meilisearch connection below is never reached on these paths (it points at a closed port).
 */
describe('invitation and reply files', () => {
  let root: string;
  const cfgOf = (code: string): Config =>
    loadConfig({ env: { ARCHIVE_DATA_DIR: joinPath(root, code), ARCHIVE_OFFICE_CODE: code, ARCHIVE_OFFICE_NAME: `${code}单位`, ARCHIVE_FEDERATION_ADDR: '127.0.0.1:7443' } });
  const nowhere = { host: 'http://127.0.0.1:9', apiKey: 'unused' };
  beforeAll(async () => {
    root = await tempDir('archive-fed-inv-');
  });
  afterAll(() => cleanup(root));

  const peersFile = (code: string) => readFile(peersPath(joinPath(root, code)), 'utf8').catch(() => 'absent');

  it('signs what it writes; the file carries no private key; 上级/下级 read both ways', async () => {
    const made = await invite(cfgOf('A'), 'child');
    const { body, fingerprint } = readSignedFile(made.file);
    expect(fingerprint).toBe(made.fingerprint);
    expect(body).toMatchObject({ kind: 'invitation', invitee: 'child', from: { code: 'A', name: 'A单位', addr: '127.0.0.1:7443' } });
    expect(made.file).not.toMatch(/PRIVATE KEY/);
  });

  it('refuses an expired invitation, its own invitation, an unknown reply, a reply for another office or with another relation, another format', async () => {
    const a = cfgOf('A');
    const b = cfgOf('B');
    const c = cfgOf('C');
    const made = await invite(a, 'child');
    const before = { A: await peersFile('A'), B: await peersFile('B') };
    const later = new Date(Date.now() + 31 * 86_400_000);
    await expect(join(b, nowhere, Buffer.from(made.file), later)).rejects.toMatchObject({ code: 'FEDERATION_INVITATION_INVALID', zh: expect.stringContaining('过期') });
    await expect(join(a, nowhere, Buffer.from(made.file))).rejects.toMatchObject({ code: 'FEDERATION_JOIN_SELF' });
    // A reply B could write, made by hand with B's key: to a nonce A never issued, to C, with a wrong relation.
    const idB = await loadOrCreateIdentity(b.dataDir, 'B', '127.0.0.1');
    const idA = await loadOrCreateIdentity(a.dataDir, 'A', '127.0.0.1');
    const idC = await loadOrCreateIdentity(c.dataDir, 'C', '127.0.0.1');
    const nonce = readSignedFile(made.file).body.nonce;
    const reply = (over: Partial<Extract<InvitationBody, { kind: 'reply' }>>) =>
      Buffer.from(
        signedFile(
          {
            kind: 'reply',
            nonce,
            createdAt: new Date().toISOString(),
            from: { code: 'B', name: 'B单位', addr: '127.0.0.1:7444', cert: idB.cert },
            to: { code: 'A', fingerprint: idA.fingerprint },
            inviter: 'parent',
            ...over,
          },
          idB,
        ),
      );
    await expect(join(a, nowhere, reply({ nonce: 'f'.repeat(32) }))).rejects.toMatchObject({ code: 'FEDERATION_REPLY_UNKNOWN' });
    await expect(join(a, nowhere, reply({ to: { code: 'A', fingerprint: idC.fingerprint } }))).rejects.toMatchObject({ code: 'FEDERATION_REPLY_UNKNOWN' });
    await expect(join(a, nowhere, reply({ inviter: 'child' }))).rejects.toMatchObject({ code: 'FEDERATION_INVITATION_INVALID' });
    const other = JSON.parse(made.file);
    other.formatVersion = 2;
    await expect(join(b, nowhere, Buffer.from(JSON.stringify(other)))).rejects.toMatchObject({ code: 'FEDERATION_INVITATION_INVALID', zh: expect.stringContaining('格式版本不支持') });
    const extra = JSON.parse(made.file);
    extra.body.token = 'smuggled';
    await expect(join(b, nowhere, Buffer.from(JSON.stringify(extra)))).rejects.toMatchObject({ code: 'FEDERATION_INVITATION_INVALID' });
    await expect(join(b, nowhere, Buffer.alloc(70_000, 0x20))).rejects.toMatchObject({ code: 'FEDERATION_INVITATION_INVALID', zh: expect.stringContaining('过大') });
    // Nothing changed on either side (A's pending invitation is still there, unused).
    expect(await peersFile('B')).toBe(before.B);
    expect(await peersFile('A')).toBe(before.A);
  });
});
