// Small shared pieces of the pages: error boxes, notices, status badges, tables.
import { h } from './dom.js';
import { t } from './i18n.js';

/** Show the server's message (Chinese, with its code) where the person is looking. */
export function showError(container, err) {
  // A list of problems (a CSV's bad cells) is shown one per line under the first line of the message.
  const problems = Array.isArray(err?.details?.problems) ? err.details.problems : undefined;
  const text = err?.message ?? String(err);
  const box = h(
    'div.error',
    { role: 'alert' },
    h('span.msg', problems ? text.split('\n')[0] : text),
    err?.code ? h('small.code', ` [${err.code}]`) : null,
    problems
      ? h(
          'ul.problems',
          problems.map((p) => h('li', { 'data-line': p.line ?? '', 'data-column': p.columnNumber ?? '' }, p.message ?? p.code ?? '')),
        )
      : null,
  );
  container.prepend(box);
  return box;
}

/** An area that holds at most one message (error or success) at a time. */
export function messageArea() {
  const el = h('div.messages', { 'aria-live': 'polite' });
  return {
    el,
    error(e) {
      el.replaceChildren();
      showError(el, e);
    },
    ok(text) {
      el.replaceChildren(h('div.ok', { role: 'status' }, text));
    },
    clear() {
      el.replaceChildren();
    },
  };
}

export function badge(status) {
  return h(`span.badge.${status}`, t(status) ?? status);
}

export function table(headers, rows, attrs) {
  return h(
    'table',
    attrs,
    h(
      'thead',
      h(
        'tr',
        headers.map((x) => h('th', { scope: 'col' }, x)),
      ),
    ),
    h('tbody', rows),
  );
}

/** Run an async action from a button: disabled while it runs, errors to the message area. */
export function busy(button, msgs, fn) {
  return async (ev) => {
    ev?.preventDefault?.();
    button.disabled = true;
    msgs?.clear();
    try {
      await fn();
    } catch (e) {
      if (msgs) msgs.error(e);
      else throw e;
    } finally {
      button.disabled = false;
    }
  };
}

/** A progress bar (0..1). The width is set through the DOM: the CSP allows no inline style attribute. */
export function progressBar(frac, id) {
  const fill = h('div.bar-fill');
  fill.style.width = `${Math.round(Math.min(1, Math.max(0, frac)) * 100)}%`;
  return h('div.progress', { id, role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(Math.round(frac * 100)) }, fill);
}
