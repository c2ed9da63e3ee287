// SigV4 query-string presigning in plain JavaScript (no Node built-ins, no async crypto), so the same
// code runs in Node and in Cloudflare's workerd and gives identical URLs for identical inputs.
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';

const encoder = new TextEncoder();
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i] as number];
  return out;
}

/** RFC 3986 encoding as SigV4 wants it: everything but `A-Za-z0-9-._~` escaped (`/` kept in paths). */
const SAFE = /^[A-Za-z0-9\-._~]*$/;
const SAFE_PATH = /^[A-Za-z0-9\-._~/]*$/;

export function uriEncode(s: string, keepSlash = false): string {
  if ((keepSlash ? SAFE_PATH : SAFE).test(s)) return s;
  let out = encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  if (keepSlash) out = out.replace(/%2F/g, '/');
  return out;
}

/** Hash primitives; the default is pure JavaScript (runs anywhere), Node passes its native ones. */
export interface PresignHashes {
  sha256Hex(data: string): string;
  /** HMAC-SHA256 of `data` under `key`, raw bytes. */
  hmac(key: Uint8Array, data: string): Uint8Array;
  /** HMAC-SHA256 of `data` under a key reused for many messages, hex. */
  hmacHexWith(key: Uint8Array): (data: string) => string;
}

/** Pure-JavaScript hashes (@noble/hashes): identical results to native ones, anywhere. */
export const jsHashes: PresignHashes = {
  sha256Hex: (data) => hex(sha256(encoder.encode(data))),
  hmac: (key, data) => hmac(sha256, key, encoder.encode(data)),
  hmacHexWith: (key) => {
    const keyed = hmac.create(sha256, key);
    return (data) => hex(keyed.clone().update(encoder.encode(data)).digest());
  },
};

const HOST_ONLY = ['host'];

// SigV4's timestamp (20261122T102030Z) for the current second, kept: a busy presigner signs many URLs
// in the same second, and formatting a date is a noticeable part of signing one.
let cachedSecond = Number.NaN;
let cachedAmzDate = '';
function amzDateOf(now: Date): string {
  const second = Math.floor(now.getTime() / 1000);
  if (second !== cachedSecond) {
    const iso = now.toISOString();
    cachedAmzDate = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
    cachedSecond = second;
  }
  return cachedAmzDate;
}

export interface PresignerOptions {
  /** Public endpoint the user will reach, e.g. `https://s3.lab.org` (the signature covers its Host). */
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Hash implementation; defaults to pure JavaScript. */
  hashes?: PresignHashes;
}

export interface PresignRequest {
  method: 'GET' | 'PUT' | 'HEAD' | 'DELETE' | 'POST';
  bucket: string;
  key: string;
  /** Seconds the URL stays valid (1 .. 604800). */
  expiresIn: number;
  /** Extra query parameters that are part of the request (partNumber, uploadId, response-*). */
  query?: Record<string, string>;
  /** Extra headers the client must send, signed (lower-case names), e.g. x-amz-checksum-sha256. */
  headers?: Record<string, string>;
  /** Signing time; defaults to now. */
  now?: Date;
}

/**
 * Creates a presigner. The derived signing key (and its HMAC state) is cached per day, so each URL costs
 * one SHA-256 and one HMAC, computed synchronously: Web Crypto's async round trips would cost more than
 * the hashing itself. Path-style URLs (`endpoint/bucket/key`), as MinIO serves them.
 */
export function createPresigner(opts: PresignerOptions) {
  const url = new URL(opts.endpoint);
  const host = url.host;
  const base = `${url.protocol}//${host}${url.pathname.replace(/\/$/, '')}`;
  const basePath = url.pathname.replace(/\/$/, '');
  const h = opts.hashes ?? jsHashes;
  const keys = new Map<string, (data: string) => string>();
  // The credential scope changes once a day; encoding it is a noticeable part of one URL.
  let credentialDate = '';
  let scope = '';
  let credential = '';
  let encodedCredential = '';

  /** HMAC keyed with the day's signing key. */
  const signer = (date: string) => {
    let k = keys.get(date);
    if (!k) {
      const kDate = h.hmac(encoder.encode(`AWS4${opts.secretAccessKey}`), date);
      const kSigning = h.hmac(h.hmac(h.hmac(kDate, opts.region), 's3'), 'aws4_request');
      k = h.hmacHexWith(kSigning);
      if (keys.size > 4) keys.clear();
      keys.set(date, k);
    }
    return k;
  };

  return {
    host,
    /** The presigned URL for `req`. */
    presign(req: PresignRequest): string {
      const amzDate = amzDateOf(req.now ?? new Date());
      const date = amzDate.slice(0, 8);
      if (date !== credentialDate) {
        credentialDate = date;
        scope = `${date}/${opts.region}/s3/aws4_request`;
        credential = `${opts.accessKeyId}/${scope}`;
        encodedCredential = uriEncode(credential);
      }
      const extraHeaders = req.headers ? Object.entries(req.headers) : [];
      const extraQuery = req.query ? Object.entries(req.query) : [];
      const headerNames =
        extraHeaders.length === 0
          ? HOST_ONLY
          : ['host', ...extraHeaders.map(([h]) => h.toLowerCase())].sort();
      const signedHeaders = headerNames.join(';');
      let query: string;
      if (extraQuery.length === 0) {
        // The five X-Amz-* parameters, already in code-point order.
        query = `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${encodedCredential}&X-Amz-Date=${amzDate}&X-Amz-Expires=${req.expiresIn}&X-Amz-SignedHeaders=${uriEncode(signedHeaders)}`;
      } else {
        const params: [string, string][] = [
          ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'],
          ['X-Amz-Credential', credential],
          ['X-Amz-Date', amzDate],
          ['X-Amz-Expires', String(req.expiresIn)],
          ['X-Amz-SignedHeaders', signedHeaders],
          ...extraQuery,
        ];
        query = params
          .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
          .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1))
          .map(([k, v]) => `${k}=${v}`)
          .join('&');
      }
      const objectPath = `/${uriEncode(req.bucket)}/${uriEncode(req.key, true)}`;
      const path = `${basePath}${objectPath}`;
      let canonicalHeaders = `host:${host}\n`;
      if (extraHeaders.length > 0) {
        const lowerHeaders: Record<string, string> = { host };
        for (const [k, v] of extraHeaders) lowerHeaders[k.toLowerCase()] = v.trim();
        canonicalHeaders = headerNames.map((h) => `${h}:${lowerHeaders[h]}\n`).join('');
      }
      const canonical = `${req.method}\n${path}\n${query}\n${canonicalHeaders}\n${signedHeaders}\nUNSIGNED-PAYLOAD`;
      const digest = h.sha256Hex(canonical);
      const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${digest}`;
      const signature = signer(date)(toSign);
      return `${base}${objectPath}?${query}&X-Amz-Signature=${signature}`;
    },
  };
}

export type Presigner = ReturnType<typeof createPresigner>;
