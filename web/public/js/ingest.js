// 档案员: batch upload (files, a whole folder, drag and drop), optional CSV, live progress per item
// and per batch from the server's events, the job list with failures, and ingest charts.
import { get, upload } from './api.js';
import { clear, field, fmtDuration, fmtTime, h } from './dom.js';
import { t } from './i18n.js';
import { barChart, hhmm, lineChart } from './charts.js';
import { messageArea, progressBar, table } from './ui.js';
import { planSelection } from './upload-plan.js';
import { jobVerdict, listedOutcomes } from './job-summary.js';

async function dropped(dt) {
  const roots = [...dt.items].map((i) => i.webkitGetAsEntry?.()).filter(Boolean);
  const out = [];
  const walk = async (entry, prefix) => {
    if (entry.isFile) out.push({ file: await new Promise((res, rej) => entry.file(res, rej)), path: prefix + entry.name });
    else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
        if (!batch.length) break;
        for (const e of batch) await walk(e, `${prefix}${entry.name}/`);
      }
    }
  };
  for (const r of roots) await walk(r, '');
  return out;
}

export function render(main) {
  const msgs = messageArea();
  let selection = [];
  let batchName;
  let csvFile;
  const filesInput = h('input', { type: 'file', id: 'files-input', multiple: true });
  const folderInput = h('input', { type: 'file', id: 'folder-input', webkitdirectory: true, multiple: true });
  const csvInput = h('input', { type: 'file', id: 'csv-input', accept: '.csv,text/csv' });
  const posts = h('input', { id: 'posts-input', placeholder: 'BGS, ZH' });
  const classification = h(
    'select',
    { id: 'classification-input' },
    ['内部', '公开'].map((c) => h('option', { value: c }, c)),
  );
  const chosen = h('p.muted', { id: 'selection-info' });
  const uploadBar = h('div');
  const submit = h('button.primary', { type: 'submit', id: 'upload-submit', disabled: true }, t('upload'));
  const drop = h(
    'div.dropzone',
    { id: 'dropzone', tabindex: '0' },
    h('p', t('dropHere')),
    h('div.row', h('label.button', t('chooseFiles'), filesInput), h('label.button', t('chooseFolder'), folderInput)),
  );

  const setSelection = (list) => {
    const plan = planSelection(list);
    selection = plan.files;
    batchName = plan.batch;
    if (plan.csv) csvFile = plan.csv.file;
    chosen.textContent = selection.length ? `${t('selected', { n: selection.length, items: plan.items })}${csvFile ? ` · CSV: ${csvFile.name}` : ''}` : '';
    submit.disabled = selection.length === 0;
  };
  filesInput.addEventListener('change', () => setSelection([...filesInput.files].map((file) => ({ file, path: file.name }))));
  folderInput.addEventListener('change', () => setSelection([...folderInput.files].map((file) => ({ file, path: file.webkitRelativePath || file.name }))));
  csvInput.addEventListener('change', () => {
    csvFile = csvInput.files[0];
    setSelection(selection);
  });
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', async (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    setSelection(await dropped(e.dataTransfer));
  });

  const form = h(
    'form.card',
    { id: 'upload-form' },
    h('h2', t('ingestTitle')),
    msgs.el,
    drop,
    chosen,
    h('div.row', field(t('csvFile'), csvInput), field(t('postsField'), posts), field(t('classification'), classification)),
    h('p.muted', h('a', { href: '/api/ingest/csv-template', download: '', id: 'csv-template' }, t('csvTemplate')), ' ', t('csvTemplateHint')),
    uploadBar,
    submit,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    msgs.clear();
    const fd = new FormData();
    // Fields first: the server reads them before it has all the files.
    fd.append('posts', posts.value);
    if (batchName) fd.append('batch', batchName);
    fd.append('classification', classification.value);
    if (csvFile) fd.append('manifest', csvFile, csvFile.name.split('/').pop());
    for (const f of selection) fd.append('files', f.file, f.path);
    try {
      const r = await upload('/api/ingest/upload', fd, (frac) => clear(uploadBar, progressBar(frac, 'upload-progress'), h('small', t('uploading', { pct: Math.round(frac * 100) }))));
      clear(uploadBar);
      msgs.ok(`${r.job}: ${r.items.map((i) => i.label).join('、')}${r.problems?.length ? ` — ${r.problems.map((p) => p.message ?? p.code).join('；')}` : ''}`);
      selection = [];
      batchName = undefined;
      csvFile = undefined;
      form.reset();
      chosen.textContent = '';
      await track(r.job);
      refreshJobs();
    } catch (err) {
      clear(uploadBar);
      msgs.error(err);
      submit.disabled = false;
    }
  });

  const live = h('div.live', { id: 'live-jobs' });
  const jobsBox = h('div', { id: 'jobs' });
  const charts = h('div.charts', { id: 'ingest-charts' });
  clear(main, h('section.ingest', form, h('div.card', h('h2', t('live')), live), h('div.card', h('h2', t('jobsTitle')), charts, jobsBox)));

  const cards = new Map();
  /** A live card for one job: the batch bar, rate, ETA and one bar per item. */
  async function track(jobId) {
    if (cards.has(jobId)) return;
    const card = { el: h('div.job-card', { 'data-job': jobId }), loading: true, missed: 0 };
    cards.set(jobId, card);
    // An event that lands while the journal is read would be lost (a batch that fails at once sends
    // its last event then): read it again; the journal is written before each event is sent.
    do {
      card.missed = 0;
      await load(card, jobId);
    } while (card.missed);
    card.loading = false;
    live.prepend(card.el);
    paint(card);
  }
  /** The journal as the server shows it to this person (items by 题名/档号, errors, hidden count). */
  async function load(card, jobId) {
    const job = await get(`/api/jobs/${encodeURIComponent(jobId)}`);
    card.items = new Map(job.items.map((i) => [i.n, i]));
    card.progress = job.progress;
    card.reocrOf = job.reocrOf;
    card.batch = job.batch;
  }
  function paint(card) {
    const p = card.progress;
    const outcomes = [...card.items.values()].map((it) => it.outcome);
    const verdict = jobVerdict(p.state, outcomes);
    // Pages of failed items are finished but not archived: the bar never shows them as done work,
    // so a failed job is never a full bar.
    const failed = verdict === 'failed' || verdict === 'partial';
    const frac = p.pagesTotal ? (p.pagesDone - (p.pagesFailed ?? 0)) / p.pagesTotal : 0;
    const reocr = card.reocrOf ? t('reocrOf', { item: [card.reocrOf.archivalCode, card.reocrOf.title].filter(Boolean).join(' ') || card.reocrOf.itemId }) : null;
    clear(
      card.el,
      h(
        'div.row',
        card.batch ? h('strong.batch', `${t('batch')}：${card.batch}`) : null,
        h('strong', p.jobId),
        reocr ? h('span.reocr', reocr) : null,
        h(`span.badge.${verdict}`, { 'data-state': p.state, 'data-verdict': verdict }, t(`jobState.${verdict}`)),
        h('span', t('itemsFinished', { done: p.itemsFinished, total: p.items })),
        h('span', t('pagesDone', { done: p.pagesDone, total: p.pagesTotal })),
        p.pagesPerMinute ? h('span.rate', t('pagesPerMin', { v: p.pagesPerMinute })) : null,
        p.etaSeconds !== undefined && p.state !== 'done' ? h('span.eta', t('eta', { v: fmtDuration(p.etaSeconds) })) : null,
        p.hiddenItems ? h('span.muted.hidden-items', t('hiddenItems', { n: p.hiddenItems })) : null,
      ),
      p.waitingReason ? h('p.error', p.waitingReason) : null,
      withClass(progressBar(frac, `job-progress-${p.jobId}`), failed),
      h(
        'ul.items',
        [...card.items].map(([n, it]) => {
          const bad = ['failed', 'refused', 'quarantined'].includes(it.outcome);
          const itemFrac = it.outcome === 'archived' || it.outcome === 'duplicate' ? 1 : it.pageCount ? it.pagesDone / it.pageCount : 0;
          return h(
            'li',
            { 'data-item': it.label, 'data-outcome': it.outcome },
            h('span.label', { title: it.label }, it.name ?? it.label),
            withClass(progressBar(itemFrac), bad),
            h('span', `${t(`stage.${it.stage}`)} · ${t(`outcome.${it.outcome}`)}`),
            it.error ? h('small.error', it.error.message) : null,
          );
        }),
      ),
    );
  }
  function withClass(bar, failed) {
    if (failed) bar.classList.add('failed');
    return bar;
  }

  let refreshTimer;
  const events = new EventSource('/api/jobs/events');
  events.addEventListener('ended', () => {
    // The server closed the stream: the session ended (logout elsewhere, disabled, changed access).
    events.close();
    msgs.error(new Error(t('sessionEnded')));
  });
  // EventSource reconnects by itself (the appliance restarted, the line dropped), but progress sent
  // while it was away is gone: on every reconnect each followed job is read again, so a card never
  // stays 处理中 for a job that finished meanwhile.
  let connectedOnce = false;
  events.addEventListener('open', () => {
    if (connectedOnce) {
      for (const [jobId, card] of cards) {
        if (card.loading) card.missed++;
        else
          load(card, jobId).then(
            () => paint(card),
            () => undefined,
          );
      }
      scheduleRefresh(0);
    }
    connectedOnce = true;
  });
  events.addEventListener('progress', async (e) => {
    const p = JSON.parse(e.data);
    const card = cards.get(p.jobId);
    if (!card) {
      // A job this page did not start (a re-OCR from the viewer, a hot-folder batch): follow it
      // too, so it turns 完成 here without a reload.
      if (p.state !== 'done') track(p.jobId).catch(() => undefined);
      scheduleRefresh(p.state === 'done' ? 0 : 2_000);
      return;
    }
    if (card.loading) {
      card.missed++;
      return;
    }
    card.progress = p;
    if (p.item) card.items.set(p.item.n, { ...card.items.get(p.item.n), ...p.item });
    if (p.state === 'done') {
      // Done: read the journal once more for each item's error.
      await load(card, p.jobId).catch((err) => msgs.error(err));
    }
    paint(card);
    scheduleRefresh(p.state === 'done' ? 0 : 2_000);
  });

  // The job list is read again at most every 2 s while events flow, and at once when a job is done.
  // An earlier refresh is never pushed back: with several jobs running, a steady stream of events
  // would otherwise keep postponing it and a finished job would stay 处理中 in the list.
  let refreshAt = 0;
  function scheduleRefresh(ms) {
    const at = Date.now() + ms;
    if (refreshAt && refreshAt <= at) return;
    clearTimeout(refreshTimer);
    refreshAt = at;
    refreshTimer = setTimeout(() => {
      refreshAt = 0;
      refreshJobs();
    }, ms);
  }

  async function refreshJobs() {
    let jobs;
    try {
      jobs = await get('/api/jobs');
    } catch (e) {
      msgs.error(e);
      return;
    }
    drawCharts(jobs);
    // Jobs still running when the page opens get a live card as well.
    for (const j of jobs) if (j.state !== 'done' && !cards.has(j.id)) track(j.id).catch(() => undefined);
    if (!jobs.length) return clear(jobsBox, h('p.muted', t('noJobs')));
    const rows = jobs.map((j) => {
      const verdict = jobVerdict(j.state, listedOutcomes(j));
      return h(
        'tr',
        { 'data-job': j.id, 'data-state': j.state, 'data-verdict': verdict },
        h('td', fmtTime(j.createdAt)),
        h(
          'td',
          j.batch ? [h('strong.batch', j.batch), h('br'), h('small.muted', j.id)] : j.id,
          j.reocrOf
            ? h('div.muted', t('reocrOf', { item: [j.reocrOf.archivalCode, j.reocrOf.title].filter(Boolean).join(' ') || j.reocrOf.itemId }))
            : j.names?.length
              ? h('div.muted', j.names.join('、'))
              : null,
        ),
        h('td', j.actor),
        h(
          'td',
          h(`span.badge.${verdict}`, { 'data-verdict': verdict }, t(`jobState.${verdict}`)),
          ' ',
          t('itemsFinished', { done: j.itemsFinished, total: j.items }),
          j.hiddenItems ? h('div.muted', t('hiddenItems', { n: j.hiddenItems })) : null,
        ),
        h('td', t('pagesDone', { done: j.pagesDone, total: j.pagesTotal })),
        h(
          'td',
          j.failures.map((f) => h('div.error', `${f.name ?? f.label}: ${t(`outcome.${f.outcome}`)} — ${f.message ?? f.code ?? ''}`)),
          j.problems.map((p) => h('div.warn', p.message ?? p.code ?? '')),
        ),
      );
    });
    clear(jobsBox, table([t('time'), 'ID', t('actor'), t('jobsTitle'), t('pageCount'), t('failures')], rows, { id: 'jobs-table' }));
  }

  function drawCharts(jobs) {
    const now = Date.now();
    const first = Math.min(now - 10 * 60_000, ...jobs.map((j) => Date.parse(j.createdAt)));
    const span = Math.min(24 * 3600_000, now - first);
    const n = 12;
    const size = span / n;
    const buckets = Array.from({ length: n }, (_, i) => ({ start: now - span + i * size, end: now - span + (i + 1) * size, pages: 0, queue: 0 }));
    for (const j of jobs) {
      const s = Date.parse(j.startedAt ?? j.createdAt);
      const e = j.finishedAt ? Date.parse(j.finishedAt) : now;
      const c = Date.parse(j.createdAt);
      for (const b of buckets) {
        // The pages of a job spread evenly over the time it ran.
        const overlap = Math.max(0, Math.min(e, b.end) - Math.max(s, b.start));
        b.pages += e > s ? (j.pagesDone * overlap) / (e - s) : s >= b.start && s < b.end ? j.pagesDone : 0;
        if (c <= b.end && (!j.finishedAt || e > b.end)) b.queue++;
      }
    }
    clear(
      charts,
      h(
        'figure',
        lineChart(
          t('ingestRate'),
          buckets.map((b) => ({ label: hhmm(b.end), value: (b.pages * 3600_000) / size })),
          'chart-ingest-rate',
        ),
        h('figcaption', t('ingestRate')),
      ),
      h(
        'figure',
        barChart(
          t('queueLength'),
          buckets.map((b) => ({ label: hhmm(b.end), value: b.queue })),
          'chart-queue',
        ),
        h('figcaption', t('queueLength')),
      ),
    );
  }

  refreshJobs();
  return () => {
    events.close();
    clearTimeout(refreshTimer);
  };
}
