// 安全审计员 and the audit seals: the verification key shown once (text and QR code rendered by
// the server), erased from the appliance when the auditor confirms having taken it; and the seals
// verified with the key pasted back. The server's verdict is shown as it wrote it (Chinese).
import { get, post } from './api.js';
import { clear, fmtTime, h } from './dom.js';
import { t } from './i18n.js';
import { busy, messageArea } from './ui.js';

/** The key in groups of 8 after its prefix: easier to copy by hand and to compare. */
function grouped(key) {
  const m = /^(ARCHIVE-AUDIT-VK1)-([0-9a-f]{64})-([0-9a-f]{8})$/.exec(key);
  if (!m) return key;
  return `${m[1]}-\n${m[2].match(/.{8}/g).join(' ')}\n-${m[3]}`;
}

export function sealCard() {
  const msgs = messageArea();
  const keyBox = h('div', { id: 'seal-key' });
  const pasted = h('textarea', { id: 'seal-paste', rows: 3, spellcheck: 'false', autocomplete: 'off', placeholder: 'ARCHIVE-AUDIT-VK1-…' });
  // Or read from removable media: the file is read here in the browser and sent like a paste.
  const fromFile = h('input', { type: 'file', id: 'seal-file', accept: '.txt,text/plain' });
  fromFile.addEventListener('change', async () => {
    const f = fromFile.files?.[0];
    if (f && f.size < 8000) pasted.value = await f.text();
  });
  const go = h('button.primary', { type: 'submit', id: 'seal-verify' }, t('sealVerify'));
  const result = h('div', { id: 'seal-result' });
  const form = h('form', { id: 'seal-form' }, h('h3', t('sealVerifyTitle')), h('label', t('sealPaste'), pasted), h('label', t('sealFromFile'), fromFile), go, result);
  const card = h('div.card.seal', { id: 'audit-seal' }, h('h2', t('sealTitle')), msgs.el, keyBox, form);

  async function showKey() {
    const k = await get('/api/admin/audit/seal/key');
    if (!k.pending) {
      clear(keyBox, h('p.muted', { id: 'seal-key-none' }, t('sealKeyNone')));
      return;
    }
    const taken = h('button.danger', { type: 'button', id: 'seal-key-taken' }, t('sealKeyTaken'));
    const print = h('button', { type: 'button', id: 'seal-key-print' }, t('sealKeyPrint'));
    print.addEventListener('click', () => window.print());
    taken.addEventListener(
      'click',
      busy(taken, msgs, async () => {
        if (!window.confirm(t('sealKeyConfirm'))) return;
        await post('/api/admin/audit/seal/key/taken', { keyId: k.keyId });
        await showKey();
        msgs.ok(t('sealKeyErased', { id: k.keyId }));
      }),
    );
    clear(
      keyBox,
      h(
        'div.vkey',
        { id: 'seal-key-waiting' },
        h('h3', t('sealKeyWaiting')),
        h('p', t('sealKeyIntro', { id: k.keyId, time: fmtTime(k.createdAt) })),
        h('pre.vkey-text', { id: 'seal-key-text' }, grouped(k.key)),
        h('img.vkey-qr', { src: `/api/admin/audit/seal/key.svg?id=${k.keyId}`, alt: t('sealQrAlt'), width: 220, height: 220 }),
        h('div.row', print, taken),
      ),
    );
  }

  form.addEventListener(
    'submit',
    busy(go, msgs, async () => {
      clear(result);
      const v = await post('/api/admin/audit/seal/verify', { key: pasted.value });
      clear(
        result,
        h('p', { class: v.ok ? 'ok' : 'error', id: 'seal-status' }, v.ok ? t('sealOk') : t('sealBad'), v.firstBroken?.zh ? ` — ${v.firstBroken.zh}` : ''),
        v.seals?.zh ? h('p', { id: 'seal-summary' }, v.seals.zh) : null,
      );
    }),
  );

  showKey().catch((e) => msgs.error(e));
  return card;
}
