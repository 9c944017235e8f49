// A real S3 server for tests: s3rver in a child process on 127.0.0.1, over HTTPS with a CA and a server
// certificate made here with openssl (SAN IP:127.0.0.1), so restic's S3 backend works against it too.
// It can be killed and started again on the same port and data. A fault-injecting proxy can stand in
// front of it (500s or silence for part uploads), and the Debian awscli checks objects independently.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execa, execaSync } from 'execa';

const SERVER_SCRIPT = path.resolve(new URL('.', import.meta.url).pathname, 's3-server.mjs');

export const S3_ACCESS_KEY = 'LIFEBOATTESTKEY1';
export const S3_SECRET_KEY = 'lifeboat-test-secret-never-logged-7f3a';
export const S3_BUCKET = 'lifeboat';

export interface S3Server {
  port: number;
  // https://127.0.0.1:PORT
  endpoint: string;
  // s3rver's data folder (survives kill and restart).
  dataDir: string;
  // The CA certificate to trust (PEM).
  caFile: string;
  // AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_CA_BUNDLE, AWS_DEFAULT_REGION for clients.
  env: Record<string, string>;
  // SIGKILLs the server (connections die mid-request).
  kill(): void;
  // Starts it again on the same port and data.
  restart(): Promise<void>;
  // Stops the server and removes its folders.
  stop(): Promise<void>;
}

// Makes a CA and a server certificate for 127.0.0.1 in dir (EC keys: fast to make).
export function makeCertificates(dir: string): { ca: string; key: string; cert: string } {
  const file = (name: string) => path.join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  execaSync('openssl', ['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2', '-subj', '/CN=lifeboat-test-ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  execaSync('openssl', ['req', ...ec, '-keyout', file('key.pem'), '-out', file('server.csr'), '-subj', '/CN=127.0.0.1']);
  writeFileSync(file('ext.cnf'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  execaSync('openssl', ['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('cert.pem'), '-days', '2', '-extfile', file('ext.cnf')]);
  return { ca: file('ca.pem'), key: file('key.pem'), cert: file('cert.pem') };
}

// Starts s3rver with one bucket (more with `buckets`); call stop() in afterAll.
export async function startS3(options: { buckets?: string[] } = {}): Promise<S3Server> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-s3-'));
  const dataDir = path.join(dir, 'data');
  mkdirSync(dataDir);
  const certs = makeCertificates(dir);
  let child: ChildProcess | undefined;
  let port = 0;
  const launch = async () => {
    const config = { directory: dataDir, port, key: certs.key, cert: certs.cert, buckets: options.buckets ?? [S3_BUCKET], accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY };
    child = spawn(process.execPath, [SERVER_SCRIPT, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    port = await new Promise<number>((resolve, reject) => {
      let stdout = '';
      child!.stdout!.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const line = stdout.split('\n').find((l) => l.startsWith('{'));
        if (line) resolve((JSON.parse(line) as { port: number }).port);
      });
      child!.once('exit', (code) => reject(new Error(`s3rver exited (${code}) before listening: ${stderr}`)));
    });
  };
  await launch();
  const server: S3Server = {
    port,
    endpoint: `https://127.0.0.1:${port}`,
    dataDir,
    caFile: certs.ca,
    env: { AWS_ACCESS_KEY_ID: S3_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: S3_SECRET_KEY, AWS_CA_BUNDLE: certs.ca, AWS_DEFAULT_REGION: 'us-east-1' },
    kill() {
      child?.kill('SIGKILL');
      child = undefined;
    },
    async restart() {
      server.kill();
      // the same port, so configured endpoints stay valid; retry while the kernel still holds it
      for (let attempt = 0; ; attempt++) {
        try {
          await launch();
          return;
        } catch (error) {
          if (attempt >= 20) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    },
    async stop() {
      if (child) {
        const exited = new Promise((resolve) => child!.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

// The Debian awscli (/usr/bin/aws) when installed, else whatever `aws` is on PATH.
export const AWS_CLI = existsSync('/usr/bin/aws') ? '/usr/bin/aws' : 'aws';

// Runs the awscli against the server (a missing awscli fails the test).
export async function aws(server: S3Server, args: string[]): Promise<string> {
  const result = await execa(AWS_CLI, ['--endpoint-url', server.endpoint, '--output', 'json', ...args], { env: { ...server.env, AWS_PAGER: '' } });
  return result.stdout;
}

// Pending multipart uploads under a prefix, as the awscli lists them (ListMultipartUploads).
export async function pendingUploads(server: S3Server, prefix = ''): Promise<Array<{ Key: string; UploadId: string }>> {
  const out = await aws(server, ['s3api', 'list-multipart-uploads', '--bucket', S3_BUCKET, '--prefix', prefix]);
  return out.trim() ? ((JSON.parse(out) as { Uploads?: Array<{ Key: string; UploadId: string }> }).Uploads ?? []) : [];
}

// Object keys under a prefix, as the awscli lists them.
export async function objectKeys(server: S3Server, prefix = ''): Promise<string[]> {
  const out = await aws(server, ['s3api', 'list-objects-v2', '--bucket', S3_BUCKET, '--prefix', prefix]);
  return out.trim() ? ((JSON.parse(out) as { Contents?: Array<{ Key: string }> }).Contents ?? []).map((c) => c.Key) : [];
}

export type FaultMode = 'pass' | 'fail-parts' | 'stall-parts';

export interface FaultProxy {
  endpoint: string;
  // pass: forward everything; fail-parts: HTTP 500 for part uploads; stall-parts: never answer them.
  mode: FaultMode;
  // Part uploads let through before the fault starts (default 0).
  passParts: number;
  // Part uploads seen so far.
  partsSeen: number;
  // This many of the next object downloads (GET with a body) break off after 1 MiB.
  cutDownloads: number;
  // PUTs (whole objects and parts) whose URL matches are held, unanswered, until release().
  holdPuts?: RegExp;
  // How many PUTs are held now.
  held: number;
  // Lets the held PUTs through (and stops holding), or answers them 403 AccessDenied with 'deny'.
  release(how?: 'pass' | 'deny'): void;
  close(): Promise<void>;
}

// An HTTPS proxy in front of the server that breaks part uploads (PUT ...?partNumber=) on demand.
// Host headers pass unchanged, so request signatures stay valid.
export async function startFaultProxy(server: S3Server): Promise<FaultProxy> {
  const certDir = path.dirname(server.caFile);
  const ca = readFileSync(server.caFile);
  const sockets = new Set<Socket>();
  const holding: Array<(how: 'pass' | 'deny') => void> = [];
  const proxy: FaultProxy = {
    endpoint: '',
    mode: 'pass',
    passParts: 0,
    partsSeen: 0,
    cutDownloads: 0,
    held: 0,
    release(how = 'pass') {
      proxy.holdPuts = undefined;
      for (const go of holding.splice(0)) go(how);
      proxy.held = 0;
    },
    close: async () => {},
  };
  const httpsServer = https.createServer({ key: readFileSync(path.join(certDir, 'key.pem')), cert: readFileSync(path.join(certDir, 'cert.pem')) }, (req, res) => {
    if (req.method === 'PUT' && proxy.holdPuts?.test(req.url ?? '')) {
      proxy.held++;
      holding.push((how) => {
        if (how === 'pass') return forward();
        req.resume();
        req.on('end', () => {
          res.writeHead(403, { 'content-type': 'application/xml' });
          res.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>denied by the test proxy</Message></Error>');
        });
      });
      return;
    }
    const isPart = req.method === 'PUT' && /[?&]partNumber=/.test(req.url ?? '');
    if (isPart && ++proxy.partsSeen > proxy.passParts && proxy.mode !== 'pass') {
      req.resume();
      if (proxy.mode === 'fail-parts') {
        req.on('end', () => {
          res.writeHead(500, { 'content-type': 'application/xml' });
          res.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code><Message>injected by the test proxy</Message></Error>');
        });
      }
      return; // stall-parts: read the body, answer nothing
    }
    forward();
    function forward(): void {
      const upstream = https.request({ host: '127.0.0.1', port: server.port, method: req.method, path: req.url, headers: req.headers, ca }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        const cut = req.method === 'GET' && answer.statusCode === 200 && Number(answer.headers['content-length'] ?? 0) > 1 << 20 && proxy.cutDownloads > 0;
        if (!cut) return void answer.pipe(res);
        proxy.cutDownloads--;
        let sent = 0;
        answer.on('data', (chunk: Buffer) => {
          if (sent >= 1 << 20) return;
          sent += chunk.length;
          res.write(chunk);
          if (sent >= 1 << 20) {
            answer.destroy();
            res.socket?.destroy();
          }
        });
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    }
  });
  httpsServer.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => httpsServer.listen(0, '127.0.0.1', resolve));
  proxy.endpoint = `https://127.0.0.1:${(httpsServer.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      httpsServer.close(() => resolve());
    });
  return proxy;
}
