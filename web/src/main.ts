// biome-ignore-all lint/suspicious/noExplicitAny: the answers of the console's own API, read field by field where shown
// The Samsa web console: plain DOM, hash routes, every value put in the page as text (never as HTML), so that
// keys, values and names from the cluster cannot inject markup.

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | ((event: Event) => void) | undefined>;

/** An element with attributes (`on*` are listeners) and children (strings become text nodes). */
function h(tag: string, attrs: Attrs = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'object' ? child : String(child));
  }
  return el;
}

/** A table with a caption, header cells and rows; numeric columns are right-aligned. */
function table(caption: string, headers: string[], rows: Child[][], numeric: number[] = []): HTMLElement {
  const cls = (i: number) => (numeric.includes(i) ? 'num' : undefined);
  return h(
    'table',
    {},
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, ...headers.map((t, i) => h('th', { scope: 'col', class: cls(i) }, t)))),
    h('tbody', {}, ...rows.map((r) => h('tr', {}, ...r.map((c, i) => h('td', { class: cls(i) }, c))))),
  );
}

const view = document.getElementById('view')!;
const statusLine = document.getElementById('status')!;
const errorLine = document.getElementById('error')!;

function say(text: string): void {
  statusLine.textContent = text;
  errorLine.textContent = '';
}
function fail(text: string): void {
  errorLine.textContent = text;
  statusLine.textContent = '';
}

class ApiFailure extends Error {}

/** A call of the console's API. Changes carry the console's header, which cross-site pages cannot send. */
async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (method !== 'GET') headers['x-samsa-console'] = '1';
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const answer = await response.json();
  if (!response.ok) throw new ApiFailure(`${answer.error}: ${answer.message}`);
  return answer as T;
}

const enc = encodeURIComponent;

function bytes(n: number): string {
  if (n < 0) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

let readOnly = false;

// ---- Cluster and throughput ----

/** Samples of the broker's totals, polled while the cluster page shows; rates are their differences. */
const samples: Array<{ timeMs: number; messagesIn: number; bytesIn: number; bytesOut: number }> = [];
/** Rates kept for each chart: two minutes at one poll every two seconds. */
const MAX_POINTS = 60;
const POLL_MS = 2000;
let pollTimer: number | undefined;

function chart(title: string, key: 'messagesIn' | 'bytesIn' | 'bytesOut', unit: (n: number) => string): HTMLElement {
  const rates: number[] = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    rates.push(((b[key] - a[key]) * 1000) / Math.max(1, b.timeMs - a.timeMs));
  }
  const width = 240;
  const height = 60;
  const top = Math.max(1, ...rates);
  // The newest rate at the right edge, older ones to its left; a single rate is drawn as a short flat line.
  const step = width / (MAX_POINTS - 1);
  const y = (r: number) => (height - (r / top) * (height - 4) - 2).toFixed(1);
  const drawn = rates.length === 1 ? [rates[0]!, rates[0]!] : rates;
  const points = drawn.map((r, i) => `${(width - (drawn.length - 1 - i) * step).toFixed(1)},${y(r)}`).join(' ');
  const now = rates.at(-1) ?? 0;
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `${title}: ${unit(now)} now, peak ${unit(top === 1 ? Math.max(0, ...rates) : top)}`);
  const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  line.setAttribute('points', points);
  const baseline = document.createElementNS('http://www.w3.org/2000/svg', 'line');
  baseline.setAttribute('x1', '0');
  baseline.setAttribute('x2', String(width));
  baseline.setAttribute('y1', String(height - 1));
  baseline.setAttribute('y2', String(height - 1));
  baseline.setAttribute('class', 'baseline');
  svg.append(baseline, line);
  return h('figure', {}, h('figcaption', {}, `${title}: ${unit(now)}`), svg);
}

async function renderCharts(box: HTMLElement): Promise<void> {
  const t = await api('GET', '/api/throughput');
  samples.push(t);
  if (samples.length > MAX_POINTS + 1) samples.shift();
  box.replaceChildren(
    chart('Messages in per second', 'messagesIn', (n) => `${n.toFixed(1)}/s`),
    chart('Bytes in per second', 'bytesIn', (n) => `${bytes(Math.round(n))}/s`),
    chart('Bytes out per second', 'bytesOut', (n) => `${bytes(Math.round(n))}/s`),
  );
}

async function clusterView(): Promise<Node[]> {
  const c = await api('GET', '/api/cluster');
  // Rates are drawn from samples taken while this page shows: a gap spent elsewhere would flatten them.
  samples.length = 0;
  const charts = h('div', { class: 'charts' });
  await renderCharts(charts);
  pollTimer = window.setInterval(() => renderCharts(charts).catch((e) => fail(String(e.message ?? e))), POLL_MS);
  return [
    h('h2', {}, 'Cluster'),
    h(
      'dl',
      {},
      h('dt', {}, 'Cluster id'),
      h('dd', {}, c.clusterId),
      h('dt', {}, 'Version'),
      h('dd', {}, c.version),
      h('dt', {}, 'Controller'),
      h('dd', {}, c.controllerId),
      h('dt', {}, 'Topics'),
      h('dd', {}, c.topicCount),
      h('dt', {}, 'Partitions hosted'),
      h('dd', {}, c.partitionCount),
    ),
    table(
      'Brokers',
      ['Node id', 'Host', 'Port', 'Rack'],
      c.brokers.map((b: any) => [b.nodeId, b.host, b.port, b.rack ?? '–']),
      [0, 2],
    ),
    h('h2', {}, 'Throughput'),
    charts,
  ];
}

// ---- Topics ----

async function topicsView(): Promise<Node[]> {
  const { topics } = await api('GET', '/api/topics');
  const out: Node[] = [
    h('h2', {}, 'Topics'),
    table(
      'Topics',
      ['Name', 'Partitions', 'Replication factor', 'Records (offset span)', 'Size'],
      topics.map((t: any) => [
        h('a', { href: `#/topics/${enc(t.name)}` }, t.name),
        t.partitionCount,
        t.replicationFactor,
        t.offsetSpan,
        bytes(t.sizeBytes),
      ]),
      [1, 2, 3, 4],
    ),
  ];
  if (!readOnly) {
    const name = h('input', { id: 'new-topic-name', name: 'name', required: true }) as HTMLInputElement;
    const partitions = h('input', {
      id: 'new-topic-partitions',
      type: 'number',
      min: 1,
      value: 1,
      required: true,
    }) as HTMLInputElement;
    out.push(
      h('h3', {}, 'Create a topic'),
      h(
        'form',
        {
          'aria-label': 'Create topic',
          onsubmit: (e) => {
            e.preventDefault();
            change(async () => {
              await api('POST', '/api/topics', { name: name.value, partitions: Number(partitions.value) });
              return `Topic ${name.value} created`;
            });
          },
        },
        h('label', { for: 'new-topic-name' }, 'Topic name', name),
        h('label', { for: 'new-topic-partitions' }, 'Partitions', partitions),
        h('button', { type: 'submit' }, 'Create topic'),
      ),
    );
  }
  return out;
}

async function topicView(name: string): Promise<Node[]> {
  const t = await api('GET', `/api/topics/${enc(name)}`);
  const out: Node[] = [
    h('h2', {}, `Topic ${t.name}`),
    h('p', {}, h('a', { href: `#/topics/${enc(t.name)}/messages` }, 'Browse messages')),
    table(
      'Partitions',
      ['Partition', 'Leader', 'Replicas', 'In-sync replicas', 'Log start offset', 'High watermark', 'Size', 'Segments'],
      t.partitions.map((p: any) => [
        p.partition,
        p.leader,
        p.replicas.join(', '),
        p.isr.join(', '),
        p.logStartOffset,
        p.highWatermark,
        bytes(p.sizeBytes),
        p.segmentCount,
      ]),
      [0, 1, 4, 5, 6, 7],
    ),
    table(
      'Configs',
      ['Name', 'Value', 'Source'],
      t.configs.map((c: any) => [c.name, c.sensitive ? '(hidden)' : (c.value ?? '–'), c.source]),
    ),
  ];
  if (!readOnly && !t.internal) {
    const configName = h(
      'select',
      { id: 'config-name' },
      ...t.configs.map((c: any) => h('option', { value: c.name }, c.name)),
    ) as HTMLSelectElement;
    const configValue = h('input', { id: 'config-value' }) as HTMLInputElement;
    const alter = (value: string | null) =>
      change(async () => {
        await api('PUT', `/api/topics/${enc(t.name)}/configs/${enc(configName.value)}`, { value });
        return value === null ? `Override of ${configName.value} removed` : `${configName.value} set to ${value}`;
      });
    out.push(
      h('h3', {}, 'Alter a config'),
      h(
        'form',
        {
          'aria-label': 'Alter config',
          onsubmit: (e) => {
            e.preventDefault();
            alter(configValue.value);
          },
        },
        h('label', { for: 'config-name' }, 'Config name', configName),
        h('label', { for: 'config-value' }, 'Value', configValue),
        h('button', { type: 'submit' }, 'Set'),
        h('button', { type: 'button', onclick: () => alter(null) }, 'Remove override'),
      ),
      h('h3', {}, 'Delete the topic'),
      h(
        'button',
        {
          type: 'button',
          onclick: () => {
            if (!window.confirm(`Delete topic ${t.name} and all its records?`)) return;
            change(async () => {
              await api('DELETE', `/api/topics/${enc(t.name)}`);
              location.hash = '#/topics';
              return `Topic ${t.name} deleted`;
            });
          },
        },
        'Delete topic',
      ),
    );
  }
  return out;
}

// ---- Message browser ----

function shown(s: { shown: string | null; size: number; truncated: boolean; format: string }): Node {
  if (s.shown === null) return h('i', {}, 'null');
  return h(
    'div',
    {},
    h('pre', {}, s.shown),
    s.truncated ? h('span', { class: 'cut' }, `first bytes of ${s.size} shown`) : null,
  );
}

async function messagesView(name: string, query: URLSearchParams): Promise<Node[]> {
  const t = await api('GET', `/api/topics/${enc(name)}`);
  const field = (id: string, label: string, input: HTMLElement) => h('label', { for: id }, label, input);
  const partition = h(
    'select',
    { id: 'browse-partition' },
    ...t.partitions.map((p: any) =>
      h('option', { value: p.partition, selected: String(p.partition) === query.get('partition') }, p.partition),
    ),
  ) as HTMLSelectElement;
  const offset = h('input', {
    id: 'browse-offset',
    type: 'number',
    min: 0,
    value: query.get('offset') ?? '',
  }) as HTMLInputElement;
  const time = h('input', {
    id: 'browse-time',
    type: 'datetime-local',
    step: 1,
    value: query.get('time') ?? '',
  }) as HTMLInputElement;
  const format = h(
    'select',
    { id: 'browse-format' },
    ...['text', 'json', 'hex'].map((f) => h('option', { value: f, selected: f === query.get('format') }, f)),
  ) as HTMLSelectElement;
  const limit = h('input', {
    id: 'browse-limit',
    type: 'number',
    min: 1,
    max: 500,
    value: query.get('limit') ?? 50,
  }) as HTMLInputElement;
  const maxBytes = h('input', {
    id: 'browse-max-bytes',
    type: 'number',
    min: 1,
    value: query.get('maxBytes') ?? 4096,
  }) as HTMLInputElement;
  const go = (from: { offset?: string }) => {
    const q = new URLSearchParams({
      partition: partition.value,
      format: format.value,
      limit: limit.value,
      maxBytes: maxBytes.value,
    });
    const at = from.offset ?? offset.value;
    if (at !== '') q.set('offset', at);
    else if (time.value) q.set('time', time.value);
    location.hash = `#/topics/${enc(name)}/messages?${q}`;
  };
  const out: Node[] = [
    h('h2', {}, `Messages of ${name}`),
    h(
      'form',
      {
        'aria-label': 'Browse messages',
        onsubmit: (e) => {
          e.preventDefault();
          go({});
        },
      },
      field('browse-partition', 'Partition', partition),
      field('browse-offset', 'From offset', offset),
      field('browse-time', 'Or from time', time),
      field('browse-format', 'Format', format),
      field('browse-limit', 'Records per page', limit),
      field('browse-max-bytes', 'Bytes shown per field', maxBytes),
      h('button', { type: 'submit' }, 'Show messages'),
    ),
  ];
  if (!query.has('partition')) return out;
  const q = new URLSearchParams({
    format: query.get('format') ?? 'text',
    limit: query.get('limit') ?? '50',
    maxBytes: query.get('maxBytes') ?? '4096',
  });
  if (query.get('offset')) q.set('offset', query.get('offset')!);
  else if (query.get('time')) q.set('timestamp', String(new Date(query.get('time')!).getTime()));
  const page = await api('GET', `/api/topics/${enc(name)}/partitions/${enc(query.get('partition')!)}/records?${q}`);
  out.push(
    h(
      'p',
      {},
      `Partition ${page.partition}: offsets ${page.logStartOffset} to ${page.highWatermark - 1}; showing ${page.records.length} from ${page.from}.`,
    ),
    table(
      'Messages',
      ['Offset', 'Timestamp', 'Key', 'Value', 'Headers'],
      page.records.map((r: any) => [
        r.offset,
        `${new Date(r.timestamp).toISOString()}${r.timestampType === 'LogAppendTime' ? ' (append time)' : ''}`,
        shown(r.key),
        shown(r.value),
        h('div', {}, ...r.headers.map((x: any) => h('div', {}, `${x.key}: `, shown(x.value)))),
      ]),
      [0],
    ),
    page.nextOffset < page.highWatermark
      ? h('button', { type: 'button', onclick: () => go({ offset: String(page.nextOffset) }) }, 'Next page')
      : h('p', {}, 'End of the partition.'),
  );
  return out;
}

// ---- Consumer groups ----

async function groupsView(): Promise<Node[]> {
  const { groups } = await api('GET', '/api/groups');
  return [
    h('h2', {}, 'Consumer groups'),
    table(
      'Consumer groups',
      ['Group', 'Type', 'State', 'Lag'],
      groups.map((g: any) => [h('a', { href: `#/groups/${enc(g.groupId)}` }, g.groupId), g.type, g.state, g.lag]),
      [3],
    ),
  ];
}

async function groupView(groupId: string): Promise<Node[]> {
  const g = await api('GET', `/api/groups/${enc(groupId)}`);
  const out: Node[] = [
    h('h2', {}, `Group ${g.groupId}`),
    h(
      'dl',
      {},
      h('dt', {}, 'State'),
      h('dd', { 'aria-label': 'Group state' }, g.state),
      h('dt', {}, 'Type'),
      h('dd', {}, g.type),
      h('dt', {}, 'Total lag'),
      h(
        'dd',
        { 'aria-label': 'Total lag' },
        g.offsets.reduce((n: number, o: any) => n + (o.lag ?? 0), 0),
      ),
    ),
    h('button', { type: 'button', onclick: () => route() }, 'Refresh'),
    table(
      'Members',
      ['Member id', 'Client id', 'Host', 'Assigned partitions'],
      g.members.map((m: any) => [
        m.memberId,
        m.clientId,
        m.clientHost,
        m.assignment.map((a: any) => `${a.topic}: ${a.partitions.join(', ')}`).join('; '),
      ]),
    ),
    table(
      'Committed offsets',
      ['Topic', 'Partition', 'Committed offset', 'High watermark', 'Lag', 'Member'],
      g.offsets.map((o: any) => [
        o.topic,
        o.partition,
        o.committedOffset,
        o.highWatermark,
        o.lag ?? '–',
        o.memberId ?? '–',
      ]),
      [1, 2, 3, 4],
    ),
  ];
  if (!readOnly) {
    const topics = [...new Set<string>(g.offsets.map((o: any) => o.topic))];
    const topic = h(
      'select',
      { id: 'reset-topic' },
      h('option', { value: '' }, 'every topic with offsets'),
      ...topics.map((name) => h('option', { value: name }, name)),
    ) as HTMLSelectElement;
    const to = h(
      'select',
      { id: 'reset-to' },
      h('option', { value: 'earliest' }, 'earliest'),
      h('option', { value: 'latest' }, 'latest'),
      h('option', { value: 'offset' }, 'offset'),
    ) as HTMLSelectElement;
    const offset = h('input', { id: 'reset-offset', type: 'number', min: 0 }) as HTMLInputElement;
    out.push(
      h('h3', {}, 'Reset offsets'),
      h('p', {}, 'Only a group without members can be reset.'),
      h(
        'form',
        {
          'aria-label': 'Reset offsets',
          onsubmit: (e) => {
            e.preventDefault();
            change(async () => {
              await api('POST', `/api/groups/${enc(groupId)}/offsets`, {
                ...(topic.value ? { topic: topic.value } : {}),
                to: to.value,
                ...(to.value === 'offset' ? { offset: Number(offset.value) } : {}),
              });
              return `Offsets of ${groupId} reset to ${to.value === 'offset' ? offset.value : to.value}`;
            });
          },
        },
        h('label', { for: 'reset-topic' }, 'Topic', topic),
        h('label', { for: 'reset-to' }, 'Reset to', to),
        h('label', { for: 'reset-offset' }, 'Offset', offset),
        h('button', { type: 'submit' }, 'Reset offsets'),
      ),
    );
  }
  return out;
}

// ---- Routing ----

/** Runs a change, then shows the page again with what it now holds, and says how it went. */
async function change(action: () => Promise<string>): Promise<void> {
  try {
    const message = await action();
    await route();
    say(message);
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e));
  }
}

async function route(): Promise<void> {
  window.clearInterval(pollTimer);
  const [path = '/', search = ''] = location.hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  try {
    let nodes: Node[];
    if (parts[0] === 'topics' && parts[1] && parts[2] === 'messages')
      nodes = await messagesView(parts[1], new URLSearchParams(search));
    else if (parts[0] === 'topics' && parts[1]) nodes = await topicView(parts[1]);
    else if (parts[0] === 'topics') nodes = await topicsView();
    else if (parts[0] === 'groups' && parts[1]) nodes = await groupView(parts[1]);
    else if (parts[0] === 'groups') nodes = await groupsView();
    else nodes = await clusterView();
    view.replaceChildren(...nodes);
    errorLine.textContent = '';
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e));
  }
}

async function start(): Promise<void> {
  try {
    readOnly = (await api('GET', '/api/cluster')).readOnly;
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e));
  }
  document.getElementById('mode')!.hidden = !readOnly;
  window.addEventListener('hashchange', () => {
    statusLine.textContent = '';
    route();
  });
  await route();
}

start();
