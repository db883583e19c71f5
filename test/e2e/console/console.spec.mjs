// Browser test of the openbatch web console, run by console_test.go (a Go
// test that starts `openbatch dev` and Azurite and makes the job). A plain
// node script on playwright-core's API: it drives Debian's chromium
// (never a downloaded browser) headless and exits non-zero on the first
// failed check. Settings come from the environment:
//   OB_CONSOLE      the console URL (http://127.0.0.1:PORT/console/)
//   OB_JOB          the job
//   OB_EXPECT       JSON: {total, counts:{active,running,completed,succeeded,failed},
//                   failed:{task,code,details:{name:value}}, outputs:{task, blobs:{name:size}, kinds},
//                   live:{task, first, appended, release}}
//   OB_ARTIFACTS    directory for screenshots
//   OB_NODE_MODULES tools/node/node_modules (holding playwright-core)
//   OB_CHROMIUM     the chromium executable (default /usr/bin/chromium)
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(path.join(process.env.OB_NODE_MODULES, 'noop.js'));
const { chromium } = require('playwright-core');

const base = process.env.OB_CONSOLE;
const job = process.env.OB_JOB;
const want = JSON.parse(process.env.OB_EXPECT);
const artifacts = process.env.OB_ARTIFACTS;
const timeout = 60_000; // generous: a loaded 2-core machine

function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
  console.log('ok -', what);
}

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'openbatch-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.OB_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const errors = [];
try {
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(timeout);
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

  // 1. The job page shows the right counts.
  await page.goto(base + 'jobs/' + encodeURIComponent(job));
  for (const [state, n] of Object.entries(want.counts)) {
    await page.locator(`[data-count="${state}"]`).filter({ hasText: new RegExp('^' + n + '$') }).waitFor();
    check(true, `job page: ${state} = ${n}`);
  }
  const rows = await page.locator('table.tasks tbody tr').count();
  check(rows === want.total, `job page lists ${rows} tasks, want ${want.total}`);
  await page.screenshot({ path: path.join(artifacts, 'job.png'), fullPage: true });

  // Filtering by result narrows the list to the failed tasks.
  await page.goto(base + 'jobs/' + encodeURIComponent(job) + '?result=failure');
  const failedRows = await page.locator('table.tasks tbody tr').count();
  check(failedRows === want.counts.failed, `filter result=failure lists ${failedRows} tasks, want ${want.counts.failed}`);

  // 2. The failed task shows its failure code and details.
  await page.goto(base + 'jobs/' + encodeURIComponent(job) + '/tasks/' + encodeURIComponent(want.failed.task));
  const code = (await page.locator('#failure-code').textContent()).trim();
  check(code === want.failed.code, `failed task shows failure code ${code}`);
  for (const [name, value] of Object.entries(want.failed.details)) {
    const row = page.locator('.failure table.details tr').filter({ has: page.locator('th', { hasText: name }) });
    const shown = (await row.locator('td').textContent()).trim();
    check(shown.includes(value), `failed task shows detail ${name} = ${shown}`);
  }
  await page.screenshot({ path: path.join(artifacts, 'failed-task.png'), fullPage: true });

  // 3. Output blobs are listed with their sizes, grouped by kind.
  await page.goto(base + 'jobs/' + encodeURIComponent(job) + '/tasks/' + encodeURIComponent(want.outputs.task) + '/outputs');
  for (const [name, size] of Object.entries(want.outputs.blobs)) {
    const cell = page.locator(`tr[data-blob="${name}"] td.size`);
    await cell.waitFor();
    const bytes = Number(await cell.getAttribute('data-bytes'));
    check(bytes === size, `output blob ${name} listed with ${bytes} bytes, want ${size}`);
  }
  for (const kind of want.outputs.kinds) {
    await page.locator('h3.kind', { hasText: kind }).waitFor();
    check(true, `outputs grouped under kind ${kind}`);
  }
  await page.screenshot({ path: path.join(artifacts, 'outputs.png'), fullPage: true });

  // 4. The running task's stdout appears live: text the task writes after
  // the page loaded shows up without a reload.
  await page.goto(base + 'jobs/' + encodeURIComponent(job) + '/tasks/' + encodeURIComponent(want.live.task) + '/files/stdout.txt');
  const pre = page.locator('#file-text');
  await pre.filter({ hasText: want.live.first }).waitFor();
  check(!(await pre.textContent()).includes(want.live.appended), 'appended text is not there before the task writes it');
  const navigations = [];
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations.push(f.url()); });
  fs.writeFileSync(want.live.release, 'go\n'); // the task now prints want.live.appended
  await pre.filter({ hasText: want.live.appended }).waitFor();
  check(navigations.length === 0, 'the appended stdout appeared without reloading the page');
  await page.screenshot({ path: path.join(artifacts, 'live-stdout.png'), fullPage: true });

  // The pools page draws the node heat map.
  await page.goto(base + 'pools');
  const cells = await page.locator('.heat .cell').count();
  check(cells >= 1, `pools page draws ${cells} node(s) in the heat map`);
  await page.screenshot({ path: path.join(artifacts, 'pools.png'), fullPage: true });

  check(errors.length === 0, 'no script errors on the pages: ' + errors.join('; '));
} finally {
  await context.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
