// `report --html`: one self-contained page rendered in headless Chromium (Debian's, driven by
// playwright-core): no request leaves the page, and a screenshot of each chart shows its colours.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { COLORS } from '../../src/report/html.js';
import { countColor, decodePng } from './png.js';
import { requireTool } from './tools.js';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic'];

let t: TestRoot;
let report: string;
let browser: BrowserContext | undefined;
let profile: string;

beforeAll(async () => {
  requireTool('restic');
  t = makeRoot();
  writeFileSync(path.join(t.dir, 'restic.pass'), 'report-test-password\n', { mode: 0o600 });
  t.write('lifeboat.yaml', `repositories:\n  local: { provider: restic, url: ${path.join(t.dir, 'repo')}, passwordFile: ${path.join(t.dir, 'restic.pass')} }\n`);
  const data = path.join(t.dir, 'data');
  mkdirSync(data, { recursive: true });
  t.module('blog', { folders: [data], schedule: '0 3 * * *' });
  t.module('wiki', { folders: [data], enabled: false });
  for (let i = 0; i < 3; i++) {
    writeFileSync(path.join(data, `file${i}.bin`), randomBytes(50_000 * (i + 1)));
    expect((await lifeboat(t, ['backup', 'blog'])).exitCode).toBe(0);
  }
  t.part('pre-backup', '40fail', '#!/bin/sh\nexit 1\n', 'blog');
  expect((await lifeboat(t, ['backup', 'blog'])).exitCode).toBe(1);
  rmSync(path.join(t.root, 'modules', 'blog', 'hooks.d'), { recursive: true });
  t.module('shop', { folders: [path.join(t.dir, '<b>not & "markup"')] });
  expect((await lifeboat(t, ['backup', 'shop'])).exitCode).toBe(1);
  expect((await lifeboat(t, ['verify', 'blog'])).exitCode).toBe(0);
  // a module whose module.yaml cannot be loaded: it cannot run, and the report must say so
  t.write('modules/news/module.yaml', 'folders: ["/srv/news"]\nenabled: "<yes>"\n');
  report = path.join(t.dir, 'out', 'report.html');
  const run = await lifeboat(t, ['report', '--html', report]);
  expect(run.exitCode, run.stderr).toBe(0);
});

afterAll(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  t.cleanup();
});

describe('report --html', () => {
  it('is one self-contained file: no scripts, no external references, errors escaped', () => {
    const html = readFileSync(report, 'utf8');
    expect(statSync(report).mode & 0o777).toBe(0o600);
    expect(html).not.toMatch(/<script|<link|src=|url\(|@import/i);
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
    expect(html).toContain("default-src 'none'");
    expect(html).toContain('&lt;b&gt;not &amp; &quot;markup&quot; does not exist');
    expect(html).toContain('<section id="module-blog"');
    expect(html).toContain('<section id="module-news" data-module="news">\n<h2>news<span class="state bad">broken</span></h2>');
    expect(html).toContain('<td>Cannot run</td><td class="error broken">modules/news/module.yaml: /enabled must be a boolean, got &quot;&lt;yes&gt;&quot;</td>');
    expect(html).toContain('<section id="module-wiki"');
    expect(html).toMatch(/Last restore drill<\/td><td class="verify">passed/);
  });

  it('renders in headless Chromium without a request, with every chart drawn', async () => {
    const executablePath = requireTool('chromium');
    profile = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-chromium-'));
    browser = await chromium.launchPersistentContext(profile, { executablePath, args: CHROMIUM_ARGS, headless: true, viewport: { width: 820, height: 900 } });
    const page = await browser.newPage();
    const requests: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    const url = pathToFileURL(report).href;
    await page.goto(url);
    expect(requests).toEqual([url]);

    const blog = page.locator('#module-blog');
    const shot = async (selector: string) => decodePng(await blog.locator(selector).screenshot());
    const timeline = await shot('svg.timeline');
    expect(countColor(timeline, COLORS.success)).toBeGreaterThan(100); // three backups and a verify
    expect(countColor(timeline, COLORS.failure)).toBeGreaterThan(30); // one failed backup
    const size = await shot('svg.chart-size');
    expect(countColor(size, COLORS.size)).toBeGreaterThan(200);
    expect(countColor(size, COLORS.duration)).toBe(0);
    const duration = await shot('svg.chart-duration');
    expect(countColor(duration, COLORS.duration)).toBeGreaterThan(200);
    expect(countColor(duration, COLORS.size)).toBe(0);
    // the disabled module never ran: its charts say so instead of drawing bars
    await expect(page.locator('#module-wiki svg.chart-size text').textContent()).resolves.toBe('no data yet');
    // both module sections are laid out one below the other inside the 820 px viewport, neither empty
    const boxes = await Promise.all(['#module-blog', '#module-wiki'].map(async (selector) => page.locator(selector).boundingBox()));
    for (const box of boxes) {
      expect(box).not.toBeNull();
      expect(box!.width).toBeGreaterThan(0);
      expect(box!.x + box!.width).toBeLessThanOrEqual(820);
      expect(box!.height).toBeGreaterThan(0);
    }
    expect(boxes[1]!.y).toBeGreaterThanOrEqual(boxes[0]!.y + boxes[0]!.height);
  });
});
