// 演示模式 (`archive demo`): a throwaway appliance with ClamAV's test signatures only. Said on
// every page, before and after login, so nobody takes it for a real appliance.
import { h } from './dom.js';
import { t } from './i18n.js';

export async function showDemoBanner() {
  let r;
  try {
    r = await (await fetch('/api/health', { headers: { accept: 'application/json' } })).json();
  } catch {
    return;
  }
  if (!r?.demo || document.getElementById('demo-banner')) return;
  document.body.prepend(h('div.demo-banner', { id: 'demo-banner', role: 'status' }, t('demoBanner')));
}
