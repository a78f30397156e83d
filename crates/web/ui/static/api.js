// The HTTP/JSON API of `wiresift ui` (docs/ui-api.md). Authentication is the HttpOnly cookie
// the server set when the page was loaded: every request is same-origin with credentials.

/** @typedef {{name: string, path: string, dir: boolean, size: number, mtime: number}} FileEntry */
/** @typedef {{dir: string, entries: FileEntry[]}} FilesResp */
/** @typedef {{path: string, name: string, opened: number}} RecentFile */
/** @typedef {{id: string, name: string, path: string}} SessionInfo */
/**
 * @typedef {{frames: number, bytes: number, total_bytes: number, done: boolean, error: string | null,
 *   elapsed_ms: number, keys?: {keylog: number, rsa: number}, marked?: number}} Status
 */
/**
 * @typedef {{no: number, time: string, src: string, dst: string, proto: string, len: number,
 *   info: string, color: string | null, marked: boolean, line?: string, stream?: number | null,
 *   transport?: string | null}} Row
 */
/** @typedef {{total: number, indexed: number, done: boolean, rows: Row[]}} RowsResp */
/** @typedef {{name: string, filter: string, fg: string, bg: string}} ColorRule */
/** @typedef {{ok: boolean, column?: number, message?: string, rendered?: string}} FilterCheck */
/** @typedef {{name: string, kind: string, desc: string}} FieldInfo */
/** @typedef {{expr: string, count: number, ms: number, cached: boolean}} FilterResult */
/**
 * @typedef {{label: string, field?: string | null, value?: string | null, string?: boolean, kind?: string,
 *   start?: number | null, end?: number | null, tab?: number, children?: TreeNode[]}} TreeNode
 */
/** @typedef {{name: string, hex: string}} BytesTab */
/** @typedef {{no: number, tree: TreeNode[], tabs: BytesTab[]}} FrameResp */
/** @typedef {{dir: number, frame: number, data: string, missing?: number}} FollowChunk */
/**
 * @typedef {{proto: string, stream: number, client: string, server: string, chunks: FollowChunk[],
 *   bytes: [number, number], truncated: boolean, streams: number | null}} FollowResp
 */
/** @typedef {Record<string, any> & {id: string | number}} ObjectRecord */
/** @typedef {{done: boolean, objects: ObjectRecord[], error?: string | null}} ObjectsResp */
/** @typedef {'absolute'|'date'|'relative'|'delta'|'delta_displayed'|'epoch'} TimeFormat */

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   * @param {any} [body]
   */
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/**
 * @param {string} path
 * @param {Record<string, string | number | boolean | null | undefined>} [query]
 */
export function url(path, query) {
  const q = new URLSearchParams();
  if (query) {
    for (const [k, v] of Object.entries(query)) {
      if (v == null || v === '') continue;
      q.set(k, String(v));
    }
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/**
 * @param {string} method
 * @param {string} path
 * @param {{query?: Record<string, any>, json?: any, body?: BodyInit, signal?: AbortSignal}} [opts]
 * @returns {Promise<Response>}
 */
async function send(method, path, opts = {}) {
  /** @type {RequestInit} */
  const init = { method, credentials: 'same-origin', signal: opts.signal, headers: {} };
  if (opts.json !== undefined) {
    init.body = JSON.stringify(opts.json);
    /** @type {Record<string, string>} */ (init.headers)['Content-Type'] = 'application/json';
  } else if (opts.body !== undefined) {
    init.body = opts.body;
  }
  const resp = await fetch(url(path, opts.query), init);
  if (!resp.ok) {
    let body = null;
    let msg = `${resp.status} ${resp.statusText}`;
    try {
      body = await resp.json();
      if (body && typeof body.error === 'string') msg = body.error;
      else if (body && typeof body.message === 'string') msg = body.message;
    } catch {
      /* not JSON */
    }
    throw new ApiError(resp.status, msg, body);
  }
  return resp;
}

/**
 * @template T
 * @param {string} method
 * @param {string} path
 * @param {{query?: Record<string, any>, json?: any, body?: BodyInit, signal?: AbortSignal}} [opts]
 * @returns {Promise<T>}
 */
async function json(method, path, opts) {
  const r = await send(method, path, opts);
  return /** @type {Promise<T>} */ (r.json());
}

/** @param {string} id */
const S = (id) => `/api/sessions/${encodeURIComponent(id)}`;

export const api = {
  /** @param {string} [dir] @returns {Promise<FilesResp>} */
  files: (dir) => json('GET', '/api/files', { query: { dir } }),
  /** @returns {Promise<{files: RecentFile[]}>} */
  recent: () => json('GET', '/api/recent'),
  /** @returns {Promise<{sessions: SessionInfo[]}>} */
  sessions: () => json('GET', '/api/sessions'),
  /** @param {string} path @returns {Promise<SessionInfo>} */
  open: (path) => json('POST', '/api/sessions', { json: { path } }),
  /** @param {string} id */
  close: (id) => send('DELETE', S(id)),
  /** @param {string} id @param {AbortSignal} [signal] @returns {Promise<Status>} */
  status: (id, signal) => json('GET', `${S(id)}/status`, { signal }),
  /** @param {string} id @returns {Promise<Record<string, any>>} */
  info: (id) => json('GET', `${S(id)}/info`),
  /**
   * @param {string} id
   * @param {{start: number, count: number, filter?: string, time?: string}} q
   * @param {AbortSignal} [signal]
   * @returns {Promise<RowsResp>}
   */
  rows: (id, q, signal) => json('GET', `${S(id)}/rows`, { query: q, signal }),
  /** @param {string} id @param {number} frame @param {string} [filter] @returns {Promise<{position: number | null, nearest: number | null}>} */
  position: (id, frame, filter) => json('GET', `${S(id)}/position`, { query: { frame, filter } }),
  /** @param {string} id @param {{frames?: number[], all?: boolean, marked: boolean}} body @returns {Promise<{marked: number}>} */
  marks: (id, body) => json('POST', `${S(id)}/marks`, { json: body }),
  /** @returns {Promise<{rules: ColorRule[]}>} */
  colors: () => json('GET', '/api/colors'),
  /** @param {string} expr @param {AbortSignal} [signal] @returns {Promise<FilterCheck>} */
  checkFilter: (expr, signal) => json('GET', '/api/filter/check', { query: { expr }, signal }),
  /** @param {string} prefix @param {number} [limit] @param {AbortSignal} [signal] @returns {Promise<{fields: FieldInfo[]}>} */
  fields: (prefix, limit = 50, signal) => json('GET', '/api/fields', { query: { prefix, limit }, signal }),
  /** @param {string} id @param {string} expr @returns {Promise<FilterResult>} */
  applyFilter: (id, expr) => json('POST', `${S(id)}/filter`, { json: { expr } }),
  /** @param {string} id @param {number} n @param {AbortSignal} [signal] @returns {Promise<FrameResp>} */
  frame: (id, n, signal) => json('GET', `${S(id)}/frames/${n}`, { signal }),
  /** @param {string} id @param {string} proto @param {{stream?: number, frame?: number}} which @returns {Promise<FollowResp>} */
  follow: (id, proto, which) => json('GET', `${S(id)}/follow`, { query: { proto, ...which } }),
  /** @param {string} id @param {string} proto @param {number} stream @param {string} format */
  followText: async (id, proto, stream, format) =>
    (await send('GET', `${S(id)}/follow/text`, { query: { proto, stream, format } })).text(),
  /** @param {string} id @param {string} proto @param {number} stream @param {string} dir */
  followBytesUrl: (id, proto, stream, dir) => url(`${S(id)}/follow/bytes`, { proto, stream, dir }),
  /** @param {string} id */
  startObjects: (id) => send('POST', `${S(id)}/objects`),
  /** @param {string} id @returns {Promise<ObjectsResp>} */
  objects: (id) => json('GET', `${S(id)}/objects`),
  /** @param {string} id @param {string | number} k @param {boolean} [inline] */
  objectUrl: (id, k, inline) => url(`${S(id)}/objects/${encodeURIComponent(String(k))}`, { inline: inline ? 1 : null }),
  /** @param {string} id @param {string | number} k @param {AbortSignal} [signal] */
  objectPreview: (id, k, signal) => send('GET', `${S(id)}/objects/${encodeURIComponent(String(k))}`, { query: { inline: 1 }, signal }),
  /** @param {string} id */
  objectsZipUrl: (id) => `${S(id)}/objects.zip`,
  /** @param {string} id @param {string} what @param {Record<string, any>} [query] @returns {Promise<any>} */
  stats: (id, what, query) => json('GET', `${S(id)}/stats/${what}`, { query }),
  /** @param {string} id @param {'keylog'|'rsa'} kind @param {Blob} file @param {string} [target] @returns {Promise<any>} */
  keys: (id, kind, file, target) => json('POST', `${S(id)}/keys`, { query: { kind, target }, body: file }),
  /** @param {string} id @param {Record<string, string>} q */
  saveUrl: (id, q) => url(`${S(id)}/save`, q),
};

/**
 * Uploads a file with progress (fetch cannot report upload progress).
 * @param {File} file
 * @param {(sent: number, total: number) => void} onProgress
 * @returns {{promise: Promise<SessionInfo>, abort: () => void}}
 */
export function upload(file, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.open('POST', url('/api/upload', { name: file.name }));
    xhr.withCredentials = true;
    xhr.responseType = 'json';
    xhr.upload.addEventListener('progress', (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size));
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.response);
      else reject(new ApiError(xhr.status, xhr.response?.error ?? `upload failed (${xhr.status})`, xhr.response));
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'upload failed (network error)')));
    xhr.addEventListener('abort', () => reject(new ApiError(0, 'upload cancelled')));
    xhr.send(file);
  });
  return { promise: /** @type {Promise<SessionInfo>} */ (promise), abort: () => xhr.abort() };
}

/**
 * Reads at most `limit` bytes of a response body.
 * @param {Response} resp
 * @param {number} limit
 * @returns {Promise<{bytes: Uint8Array, truncated: boolean}>}
 */
export async function readPrefix(resp, limit) {
  if (!resp.body) return { bytes: new Uint8Array(), truncated: false };
  const reader = resp.body.getReader();
  const parts = [];
  let n = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    n += value.length;
    if (n >= limit) {
      truncated = true;
      reader.cancel().catch(() => {});
      break;
    }
  }
  const out = new Uint8Array(Math.min(n, limit));
  let off = 0;
  for (const p of parts) {
    const take = Math.min(p.length, out.length - off);
    out.set(p.subarray(0, take), off);
    off += take;
    if (off >= out.length) break;
  }
  return { bytes: out, truncated };
}
