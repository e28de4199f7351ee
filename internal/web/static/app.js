// The vigil dashboard. It reads this node's API at ../v1/ (relative to the
// page, so it works wherever the daemon mounts it): GET status and events
// for the first view, then the server-sent events of GET stream, read with
// fetch() because EventSource cannot send an Authorization header. Operator
// buttons POST to the operator endpoints. Everything is drawn with DOM
// calls and textContent: nothing from the API is parsed as HTML.
'use strict';

const API = new URL('../v1/', document.baseURI);
const TOKEN_KEY = 'vigil.token';
const MAX_EVENTS = 50;
const STALE_MS = 5000; // the stream sends a status at least every second
const POLL_MS = 2000; // without a stream (an older daemon), poll this often
const GET_TIMEOUT_MS = 10000; // a node that does not answer is as good as down
const POST_TIMEOUT_MS = 120000; // changes block until committed
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 8000;

const view = {
  status: null,
  events: new Map(), // key -> Event, at most MAX_EVENTS
  readOnly: false,
  busy: false,
};
let session = null; // the AbortController of the running connection

const $ = (sel) => document.querySelector(sel);

// h builds an element: h('td', {class: 'num', dataset: {state}}, 'text', child).
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat()) {
    if (kid !== null && kid !== undefined && kid !== false) el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}

// fill replaces el's children with kids unless they are the same already, so
// that a status that changes nothing visible leaves the page alone.
function fill(el, ...kids) {
  const next = h('div', null, ...kids);
  const same = next.childNodes.length === el.childNodes.length &&
    [...next.childNodes].every((n, i) => n.isEqualNode(el.childNodes[i]));
  if (!same) el.replaceChildren(...next.childNodes);
}

const pill = (state) => h('span', {class: 'pill', dataset: {state: state || 'unknown'}}, state || 'unknown');
const ms = (v) => (v > 0 ? (v < 10 ? v.toFixed(1) : v.toFixed(0)) + ' ms' : '—');
const clock = (t) => new Date(t).toLocaleTimeString([], {hour12: false});

// ---- API ----

class APIError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field || '';
  }
}

function authHeaders() {
  const t = sessionStorage.getItem(TOKEN_KEY);
  return t ? {Authorization: 'Bearer ' + t} : {};
}

// call sends one request and returns the Response; an answer that is not
// 2xx is thrown as an APIError with the API's message. timeout bounds the
// whole request, body included; 0 leaves it to signal.
async function call(method, path, body, signal, timeout) {
  const signals = [signal, timeout ? AbortSignal.timeout(timeout) : null].filter(Boolean);
  signal = signals.length ? AbortSignal.any(signals) : undefined;
  const headers = authHeaders();
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(new URL(path, API), {
    method, headers, signal, cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`, field = '';
    try {
      const e = await res.json();
      message = e.message || e.error || message;
      field = e.field;
    } catch { /* not the API's error shape: keep the status line */ }
    throw new APIError(res.status, message, field);
  }
  return res;
}

const getJSON = async (path, signal) => (await call('GET', path, undefined, signal, GET_TIMEOUT_MS)).json();

// ---- the connection: first view, then the live stream ----

function restart() {
  if (session) session.abort();
  session = new AbortController();
  run(session.signal);
}

// run keeps the page live until signal is aborted: it connects, and after a
// failure retries with exponential backoff. A 401 stops it and asks for a token.
async function run(signal) {
  let backoff = BACKOFF_MIN_MS;
  while (!signal.aborted) {
    try {
      await connect(signal, () => { backoff = BACKOFF_MIN_MS; });
      if (signal.aborted) return;
      throw new Error('the stream ended');
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof APIError && err.status === 401) {
        showLogin(err.message);
        return;
      }
      const wait = backoff * (0.75 + Math.random() / 2);
      setConn('disconnected', `disconnected — retrying in ${Math.ceil(wait / 1000)} s`, err.message);
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      await sleep(wait, signal);
      if (!signal.aborted) setConn('disconnected', 'disconnected — retrying now', err.message);
    }
  }
}

function sleep(millis, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, millis);
    signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, {once: true});
  });
}

// connect loads the first view and then follows the stream until it fails.
// It calls live whenever data flows.
async function connect(signal, live) {
  setStatus(await getJSON('status', signal));
  hideLogin();
  await loadEvents(signal);
  // Each connection has its own controller, so that a stream that goes
  // silent (a frozen node keeps its TCP connection open) can be dropped.
  const conn = new AbortController();
  let timer = setTimeout(() => conn.abort(), STALE_MS);
  let res;
  try {
    res = await call('GET', 'stream', undefined, AbortSignal.any([signal, conn.signal]), 0);
  } catch (err) {
    clearTimeout(timer);
    if (conn.signal.aborted && !signal.aborted) throw new Error(`the stream did not open in ${STALE_MS / 1000} s`);
    if (err instanceof APIError && err.status === 404) return poll(signal, live);
    throw err;
  }
  setConn('live', 'live');
  await loadEvents(signal); // events from before the stream opened
  const parse = sseParser((event, data) => {
    live();
    clearTimeout(timer);
    timer = setTimeout(() => conn.abort(), STALE_MS);
    if (event === 'status') setStatus(JSON.parse(data));
    else if (event === 'event') addEvents([JSON.parse(data)], true);
  });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const {value, done} = await reader.read();
      if (done) return;
      parse(value);
    }
  } catch (err) {
    if (conn.signal.aborted && !signal.aborted) throw new Error(`no update for ${STALE_MS / 1000} s`);
    throw err;
  } finally {
    clearTimeout(timer);
    conn.abort();
  }
}

// poll stands in for the stream on a daemon that has none.
async function poll(signal, live) {
  live();
  setConn('polling', 'live (polling)');
  while (!signal.aborted) {
    await sleep(POLL_MS, signal);
    if (signal.aborted) return;
    setStatus(await getJSON('status', signal));
    await loadEvents(signal);
  }
}

async function loadEvents(signal) {
  try {
    addEvents((await getJSON(`events?limit=${MAX_EVENTS}`, signal)).events || [], false);
  } catch (err) {
    if (!(err instanceof APIError) || err.status !== 404) throw err; // no events endpoint: none to show
  }
}

// sseParser returns a function that takes the stream's text in chunks of
// any size and calls dispatch(event, data) for each complete message
// (https://html.spec.whatwg.org/multipage/server-sent-events.html).
function sseParser(dispatch) {
  let buf = '', event = '', data = [];
  return (chunk) => {
    buf += chunk;
    // A trailing CR may be the first half of a CRLF: keep it for the next chunk.
    const end = buf.endsWith('\r') ? buf.length - 1 : buf.length;
    const lines = buf.slice(0, end).split(/\r\n|\r|\n/);
    buf = lines.pop() + buf.slice(end);
    for (const line of lines) {
      if (line === '') {
        if (data.length) dispatch(event || 'message', data.join('\n'));
        event = '';
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue; // a comment: keep-alive
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
  };
}

// ---- state ----

function setStatus(s) {
  view.status = s;
  render();
}

// Events with a seq are the cluster's, numbered; a node's own observations
// have none and are told apart by their content.
const eventKey = (e) => (e.seq ? `#${e.seq}` : `${e.at}|${e.kind}|${e.node}|${e.resource}|${e.message}`);

function addEvents(list, fresh) {
  let added = false;
  for (const e of list) {
    const k = eventKey(e);
    if (!view.events.has(k)) {
      view.events.set(k, {...e, fresh});
      added = true;
    }
  }
  if (!added) return;
  const sorted = [...view.events.entries()].sort(([, a], [, b]) =>
    (Date.parse(b.at) - Date.parse(a.at)) || ((b.seq || 0) - (a.seq || 0)));
  view.events = new Map(sorted.slice(0, MAX_EVENTS));
  renderEvents();
}

function setConn(conn, text, detail) {
  const el = $('#conn');
  el.dataset.conn = conn;
  el.textContent = text;
  el.title = detail || '';
  const banner = $('#banner');
  banner.hidden = conn !== 'disconnected';
  if (conn === 'disconnected') {
    banner.className = 'banner';
    banner.textContent = `Disconnected from the node's API — retrying. What you see may be out of date. (${detail || 'no answer'})`;
  }
}

// ---- rendering ----

function render() {
  const s = view.status;
  if (!s) return;
  document.title = `${s.quorum ? '' : '⚠ '}${s.cluster} — vigil`;
  $('#cluster').textContent = s.cluster || 'vigil';
  fill($('#seen'), `as seen from ${s.node}`, s.profile ? ` · profile ${s.profile}` : '', ` · updated ${clock(s.time)}`);
  renderBadges(s);
  renderNodes(s);
  renderResources(s);
  $('#signout').hidden = !sessionStorage.getItem(TOKEN_KEY);
}

function renderBadges(s) {
  const q = s.quorum_detail || {};
  const present = (q.present || []).length;
  const quorum = s.quorum
    ? h('span', {class: 'badge ok', id: 'quorum'}, 'quorum', h('span', {class: 'muted'}, `${present} of ${q.voters}`))
    : h('span', {class: 'badge bad', id: 'quorum'}, 'NO QUORUM', h('span', {class: 'muted'}, `${present} of ${q.voters}, ${q.needed} needed`));
  const leader = s.leader
    ? h('span', {class: 'badge', id: 'leader'}, h('span', {class: 'muted'}, 'leader'), s.leader)
    : h('span', {class: 'badge warn', id: 'leader'}, 'no leader');
  const raft = s.raft ? h('span', {class: 'badge'}, h('span', {class: 'muted'}, 'raft'), `${s.raft.state}, term ${s.raft.term}`) : null;
  const lease = s.lease && !s.lease.held ? h('span', {class: 'badge warn'}, 'no lease on ' + s.node) : null;
  const ro = view.readOnly ? h('span', {class: 'badge warn', id: 'readonly'}, 'read-only token') : null;
  fill($('#badges'), quorum, leader, raft, lease, ro);
}

// keyed keeps one element per item in parent, in order, reusing the
// element of the same key so that buttons survive a re-render.
function keyed(parent, items, keyOf, make, update) {
  const old = new Map([...parent.children].map((el) => [el.dataset.key, el]));
  const els = items.map((it) => {
    const el = old.get(keyOf(it)) || make(it);
    update(el, it);
    return el;
  });
  const same = els.length === parent.children.length && els.every((el, i) => parent.children[i] === el);
  if (!same) parent.replaceChildren(...els);
}

function renderNodes(s) {
  const nodes = s.nodes || [];
  const up = nodes.filter((n) => n.state === 'online').length;
  fill($('#nodes-count'), `${up} of ${nodes.length} online`);
  keyed($('#nodes'), s.nodes || [], (n) => n.name, makeNode, (el, n) => updateNode(el, n, s));
}

function makeNode(n) {
  const op = (kind, label) => h('button', {type: 'button', class: 'op', dataset: {op: kind, node: n.name}, onclick: () => nodeOp(kind, n.name)}, label);
  return h('article', {class: 'node', dataset: {key: n.name, node: n.name}},
    h('div', {class: 'node-body'}),
    h('div', {class: 'node-actions'}, op('standby', 'Standby'), op('unstandby', 'Unstandby')));
}

function updateNode(el, n, s) {
  el.dataset.state = n.state;
  const tags = [];
  if (n.self) tags.push(h('span', {class: 'tag'}, 'this node'));
  if (n.name === s.leader) tags.push(h('span', {class: 'tag leader'}, 'leader'));
  if (n.standby) tags.push(h('span', {class: 'tag'}, 'standby'));
  if (n.maintenance) tags.push(h('span', {class: 'tag'}, 'maintenance'));
  const links = n.self
    ? h('div', {class: 'muted small mono'}, (n.addresses || []).join(' · '))
    : h('table', {class: 'links'}, h('tbody', null, (n.links || []).map(linkRow)));
  const committed = n.committed_state && n.committed_state !== n.state
    ? h('div', {class: 'small muted'}, `committed: ${n.committed_state}`) : null;
  const fence = n.fence ? h('div', {class: /FAILED/.test(n.fence) ? 'fence bad' : 'fence'}, n.fence) : null;
  const here = (s.resources || []).filter((r) => r.node === n.name).map((r) => r.id);
  const heard = n.state !== 'online' && n.last_heard && !n.self
    ? h('div', {class: 'small muted'}, `last heard ${clock(n.last_heard)}`) : null;
  fill(el.firstElementChild,
    h('div', {class: 'node-head'}, h('span', {class: 'node-name'}, n.name), tags, pill(n.state)),
    links, committed, heard, fence,
    h('div', {class: 'runs'}, h('span', {class: 'muted'}, 'runs: '), here.length ? here.join(', ') : '—'));
  for (const b of el.querySelectorAll('button.op')) {
    // With a known standby flag show only the button that changes it.
    b.hidden = typeof n.standby === 'boolean' && (b.dataset.op === 'standby') === n.standby;
  }
  updateButtons(el);
}

function linkRow(l) {
  const loss = Math.round((l.loss || 0) * 100);
  return h('tr', null,
    h('td', {class: 'muted'}, `link ${l.index}`),
    h('td', {class: 'mono'}, l.address),
    h('td', null, pill(l.state)),
    h('td', {class: 'num ' + (loss >= 50 ? 'loss-high' : loss > 0 ? 'loss-some' : 'muted')}, `${loss}% loss`),
    h('td', {class: 'num mono'}, ms(l.rtt_ms)));
}

function renderResources(s) {
  const list = s.resources || [];
  $('#no-resources').hidden = list.length > 0;
  const started = list.filter((r) => r.state === 'started').length;
  const bad = list.filter((r) => r.state === 'failed' || r.state === 'blocked').length;
  fill($('#resources-count'), `${started} of ${list.length} started`, bad ? `, ${bad} failed or blocked` : '');
  keyed($('#resources tbody'), list, (r) => r.id, makeResource, updateResource);
}

function makeResource(r) {
  const op = (kind, label, f) => h('button', {type: 'button', class: 'op', dataset: {op: kind, resource: r.id}, onclick: f}, label);
  return h('tr', {dataset: {key: r.id, resource: r.id}},
    h('td'), h('td'), h('td'), h('td'), h('td', {class: 'num'}), h('td'),
    h('td', null, h('div', {class: 'row-actions'},
      op('explain', 'Why?', () => explain(r.id)),
      op('move', 'Move…', () => moveResource(r.id)),
      op('cleanup', 'Cleanup', () => resourceOp('cleanup', r.id, {})))));
}

function updateResource(tr, r) {
  tr.dataset.state = r.state;
  const [id, group, state, node, fails, reason] = tr.children;
  fill(id, h('span', {class: 'res-id'}, r.id), h('span', {class: 'res-kind muted small'}, r.kind));
  fill(group, r.group || h('span', {class: 'muted'}, '—'));
  fill(state, pill(r.state));
  const moving = r.target && r.target !== r.node ? h('span', {class: 'muted small'}, ` → ${r.target}`) : null;
  fill(node, h('span', {class: 'res-node'}, r.node || '—'), moving);
  fill(fails, h('span', {class: r.fail_count > 0 ? 'fails-some' : 'muted'}, String(r.fail_count || 0)));
  fill(reason, r.reason ? h('span', {class: 'small'}, r.reason) : '');
  updateButtons(tr);
}

const LEVELS = [
  [/failed|offline|lost|blocked/, 'bad'],
  [/suspect|stopped|moved|takeover|fence\.started|link\.down|standby|maintenance/, 'warn'],
  [/online|gained|started|fence\.ok|link\.up/, 'ok'],
];
const level = (kind) => (LEVELS.find(([re]) => re.test(kind)) || [null, ''])[1];

function renderEvents() {
  const list = [...view.events.values()];
  $('#no-events').hidden = list.length > 0;
  keyed($('#events'), list, eventKey, (e) => h('li', {class: e.fresh ? 'fresh' : null, dataset: {key: eventKey(e), kind: e.kind}},
    h('time', {class: 'mono muted', datetime: e.at, title: e.at}, clock(e.at)),
    h('span', {class: 'ev-kind', dataset: {level: level(e.kind)}}, e.kind),
    h('span', {class: 'ev-msg'}, e.message),
    h('span', {class: 'muted small'}, e.by ? `by ${e.by}` : '')), () => {});
}

// ---- operator actions ----

function updateButtons(root) {
  for (const b of root.querySelectorAll('button.op')) {
    const write = b.dataset.op !== 'explain';
    b.disabled = view.busy || (write && view.readOnly);
    b.title = write && view.readOnly ? 'your token is read-only' : '';
  }
}

function setBusy(busy) {
  view.busy = busy;
  updateButtons(document);
}

function nodeOp(kind, node) {
  const text = kind === 'standby'
    ? `Put ${node} in standby? It will run no resources: those on it move to other nodes.`
    : `Take ${node} out of standby? It may run resources again.`;
  ask(`${kind === 'standby' ? 'Standby' : 'Unstandby'} ${node}`, [h('p', null, text)], kind === 'standby' ? 'Standby' : 'Unstandby')
    .then((ok) => ok && operate(`nodes/${encodeURIComponent(node)}/${kind}`, {}));
}

function resourceOp(kind, id, body) {
  return operate(`resources/${encodeURIComponent(id)}/${kind}`, body);
}

function moveResource(id) {
  const s = view.status;
  const r = (s.resources || []).find((x) => x.id === id) || {};
  const nodes = (s.nodes || []).filter((n) => n.name !== r.node);
  const select = h('select', {id: 'move-to'}, nodes.map((n) =>
    h('option', {value: n.name, disabled: n.state === 'offline'}, `${n.name}${n.state === 'online' ? '' : ` (${n.state})`}`)));
  const first = nodes.find((n) => n.state !== 'offline');
  if (first) select.value = first.name;
  ask(`Move ${id}`, [
    h('p', null, `${id} runs on ${r.node || 'no node'}. Move it (with its group) to:`), select,
    h('p', {class: 'muted small'}, `This adds a location constraint; “vigil resource clear ${id}” removes it.`),
  ], 'Move').then((ok) => ok && resourceOp('move', id, {node: select.value}));
}

// operate POSTs an operator change and shows the API's answer.
async function operate(path, body) {
  setBusy(true);
  try {
    const out = await (await call('POST', path, body, undefined, POST_TIMEOUT_MS)).json();
    toast(out.message || 'done', false, out.changes || []);
  } catch (err) {
    if (err instanceof APIError && err.status === 401) {
      showLogin(err.message);
    } else if (err instanceof APIError && err.status === 403) {
      view.readOnly = true;
      toast('Your token is read-only: operator actions are disabled.', true, [err.message]);
      render();
    } else {
      toast(err.message, true, err.field ? [`field: ${err.field}`] : []);
    }
  } finally {
    setBusy(false);
  }
}

async function explain(id) {
  let x;
  try {
    x = await getJSON(`explain/${encodeURIComponent(id)}`);
  } catch (err) {
    if (err instanceof APIError && err.status === 401) return showLogin(err.message);
    return toast(err.message, true, []);
  }
  const r = x.resource || {};
  const scores = h('table', null, h('tbody', null, (r.scores || []).map((sc) => h('tr', null,
    h('td', {class: 'mono'}, sc.node), h('td', {class: 'mono num'}, String(sc.score)),
    h('td', {class: 'small'}, (sc.terms || []).map((t) => `${t.score} ${t.reason}`).join('; '))))));
  const actions = (x.actions || []).length
    ? h('ul', null, x.actions.map((a) => h('li', null, `${a.kind} ${a.resource} on ${a.node}${a.from ? ` from ${a.from}` : ''}: ${a.reason}`)))
    : h('p', {class: 'muted'}, 'No action planned.');
  ask(`Why is ${id} where it is?`, [h('div', {class: 'explain'},
    h('p', null, `On ${r.node || 'no node'}; the scheduler places it on ${r.placement || 'no node'}.`),
    r.why ? h('p', null, r.why) : null,
    h('h2', null, 'Scores'), scores, h('h2', null, 'Planned'), actions)], null);
}

// ask shows a modal with body and resolves to whether OK was chosen; with
// okLabel null it only informs.
function ask(title, body, okLabel) {
  const dlg = $('#ask');
  $('#ask-title').textContent = title;
  $('#ask-body').replaceChildren(...body);
  const ok = $('#ask-ok');
  ok.hidden = okLabel === null;
  ok.textContent = okLabel || 'OK';
  dlg.returnValue = '';
  dlg.showModal();
  return new Promise((resolve) => dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), {once: true}));
}

function toast(message, bad, details) {
  const el = h('div', {class: bad ? 'toast bad' : 'toast', role: bad ? 'alert' : 'status'},
    h('div', null, message), details.length ? h('ul', null, details.map((d) => h('li', null, d))) : null);
  $('#toasts').append(el);
  setTimeout(() => el.remove(), bad ? 15000 : 8000);
}

// ---- the token ----

function showLogin(message) {
  if (session) session.abort();
  setConn('login', 'not signed in');
  if (!view.status) $('#seen').textContent = 'sign in to see the cluster';
  $('#login-message').textContent = message;
  const dlg = $('#login');
  if (!dlg.open) dlg.showModal();
  $('#token').focus();
}

function hideLogin() {
  const dlg = $('#login');
  if (dlg.open) dlg.close();
}

function start() {
  $('#login').addEventListener('cancel', (e) => e.preventDefault()); // no way around it but a token
  $('#login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('#token').value.trim());
    $('#token').value = '';
    view.readOnly = false;
    $('#login-message').textContent = 'Signing in…';
    restart();
  });
  $('#signout').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    view.readOnly = false;
    restart();
  });
  restart();
}

start();
