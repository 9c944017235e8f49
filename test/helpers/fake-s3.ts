// A hostile S3 server for tests: plain HTTP on 127.0.0.1, a small in-memory object store (ListObjectsV2,
// GET, HEAD, PUT, DELETE, an empty ListMultipartUploads) and `craft`, a hook that answers a request
// itself with whatever the test wants (a 200 MB manifest, an endless body, a huge listing, a repeated
// continuation token). Bodies are generated as they are sent, never held in memory. It does not check
// signatures. Every request is recorded as "METHOD /path?query".
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FakeRequest {
  method: string;
  bucket: string;
  key: string;
  query: URLSearchParams;
}

export interface FakeS3 {
  // http://127.0.0.1:PORT
  endpoint: string;
  // Objects by "bucket/key".
  objects: Map<string, Buffer>;
  // Answers a request itself when it returns true (it must then end or keep writing `res`).
  craft?: (request: FakeRequest, res: http.ServerResponse) => boolean;
  requests: string[];
  close(): Promise<void>;
}

export const FAKE_ACCESS_KEY = 'FAKES3ACCESSKEY1';
export const FAKE_SECRET_KEY = 'fake-s3-secret-never-logged-1d9e';
export const FAKE_ENV = { AWS_ACCESS_KEY_ID: FAKE_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: FAKE_SECRET_KEY, AWS_DEFAULT_REGION: 'us-east-1' };

// Escapes text for an XML element.
export function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

// Starts the server; close() in afterAll.
export async function startFakeS3(): Promise<FakeS3> {
  const sockets = new Set<Socket>();
  const fake: FakeS3 = { endpoint: '', objects: new Map(), requests: [], close: async () => {} };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const [, bucket = '', ...rest] = url.pathname.split('/');
    const request: FakeRequest = { method: req.method ?? 'GET', bucket: decodeURIComponent(bucket), key: rest.map(decodeURIComponent).join('/'), query: url.searchParams };
    fake.requests.push(`${request.method} ${url.pathname}${url.search}`);
    const body: Buffer[] = [];
    req.on('data', (chunk: Buffer) => body.push(chunk));
    req.on('end', () => {
      if (fake.craft?.(request, res)) return;
      answer(fake, request, Buffer.concat(body), res);
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return fake;
}

// The plain object store's answers.
function answer(fake: FakeS3, request: FakeRequest, body: Buffer, res: http.ServerResponse): void {
  const id = `${request.bucket}/${request.key}`;
  if (request.method === 'GET' && !request.key && request.query.has('uploads')) {
    return sendXml(res, 200, `<ListMultipartUploadsResult><Bucket>${xml(request.bucket)}</Bucket><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>`);
  }
  if (request.method === 'GET' && !request.key) {
    const prefix = request.query.get('prefix') ?? '';
    const keys = [...fake.objects.keys()].filter((k) => k.startsWith(`${request.bucket}/${prefix}`)).sort();
    const contents = keys.map((k) => `<Contents><Key>${xml(k.slice(request.bucket.length + 1))}</Key><Size>${fake.objects.get(k)!.length}</Size><ETag>"e"</ETag><LastModified>2026-01-01T00:00:00.000Z</LastModified></Contents>`);
    return sendXml(res, 200, `<ListBucketResult><Name>${xml(request.bucket)}</Name><Prefix>${xml(prefix)}</Prefix><KeyCount>${keys.length}</KeyCount><IsTruncated>false</IsTruncated>${contents.join('')}</ListBucketResult>`);
  }
  const object = fake.objects.get(id);
  if (request.method === 'PUT') {
    fake.objects.set(id, body);
    res.writeHead(200, { etag: '"e"' });
    return void res.end();
  }
  if (request.method === 'DELETE') {
    fake.objects.delete(id);
    res.writeHead(204);
    return void res.end();
  }
  if (!object) return sendXml(res, 404, `<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>${xml(request.key)}</Key></Error>`);
  res.writeHead(200, { 'content-length': object.length, etag: '"e"', 'last-modified': new Date(0).toUTCString() });
  res.end(request.method === 'HEAD' ? undefined : object);
}

// Sends an XML answer.
export function sendXml(res: http.ServerResponse, status: number, text: string): void {
  const body = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${text}`);
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': body.length });
  res.end(body);
}

// Streams `total` bytes (Infinity: until the client goes away) of `unit` repeated, with backpressure;
// `head` first. With a finite total and `announce`, a content-length header is sent.
export function streamBody(res: http.ServerResponse, options: { head?: string; unit: string; total: number; announce?: boolean; status?: number; contentType?: string }): void {
  const head = Buffer.from(options.head ?? '');
  const block = Buffer.from(options.unit.repeat(Math.max(1, Math.floor((256 * 1024) / options.unit.length))));
  const headers: http.OutgoingHttpHeaders = { 'content-type': options.contentType ?? 'application/octet-stream', etag: '"e"' };
  if (options.announce && Number.isFinite(options.total)) headers['content-length'] = options.total;
  res.writeHead(options.status ?? 200, headers);
  let sent = 0;
  const pump = () => {
    if (sent === 0 && head.length) {
      res.write(head);
      sent += head.length;
    }
    while (sent < options.total) {
      const chunk = options.total - sent < block.length ? block.subarray(0, options.total - sent) : block;
      sent += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    res.end();
  };
  res.on('close', () => (sent = Infinity));
  pump();
}
