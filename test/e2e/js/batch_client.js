// Drives the official @azure/batch 10.2.0 SDK against an openbatch server and
// prints one JSON object of results on stdout for the Go test to assert.
//
// Configuration (environment):
//   OB_ENDPOINT   http://127.0.0.1:PORT
//   OB_ACCOUNT    account name
//   OB_KEY        base64 account key
//   OB_POOL       id of an existing pool with at least one node
//   OB_JOB        id of the job to create
//   OB_NTASKS     number of tasks to add through addCollection (<= 100)
//   OB_PAGE       maxResults for the paged task listing
//   OB_BAD_KEY    a wrong base64 key: one call is made with it, expecting 403
//   OB_MODE       "list-tasks": only list OB_JOB's tasks (maxResults OB_PAGE,
//                 following listNext) and print {count, distinct, pages, ids?}
// Resolve @azure/batch from tools/node/node_modules with NODE_PATH.
"use strict";

const { BatchServiceClient, BatchSharedKeyCredentials } = require("@azure/batch");

function env(name) {
  const v = process.env[name];
  if (v === undefined || v === "") throw new Error(`missing environment variable ${name}`);
  return v;
}

async function readStream(s) {
  const chunks = [];
  for await (const c of s) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks).toString("utf8");
}

function errInfo(e) {
  const body = e.body || {};
  const msg = body.message && typeof body.message === "object" ? body.message.value : body.message || e.message;
  return { statusCode: e.statusCode, code: e.code || body.code, message: String(msg || "").split("\n")[0] };
}

async function listTasks(client, jobId, pageSize) {
  const counts = new Map();
  let pages = 0;
  let page = await client.task.list(jobId, { taskListOptions: { maxResults: pageSize, select: "id,state" } });
  for (;;) {
    pages++;
    if (page.length > pageSize) throw new Error(`page ${pages} has ${page.length} tasks, more than maxResults ${pageSize}`);
    for (const t of page) counts.set(t.id, (counts.get(t.id) || 0) + 1);
    if (!page.odatanextLink) break;
    page = await client.task.listNext(page.odatanextLink);
  }
  let count = 0;
  const duplicates = [];
  for (const [id, n] of counts) {
    count += n;
    if (n > 1) duplicates.push(id);
  }
  return { count, distinct: counts.size, pages, duplicates, ids: [...counts.keys()] };
}

async function main() {
  if (process.env.OB_MODE === "list-tasks") {
    const client = new BatchServiceClient(new BatchSharedKeyCredentials(env("OB_ACCOUNT"), env("OB_KEY")), env("OB_ENDPOINT"));
    const started = Date.now();
    const r = await listTasks(client, env("OB_JOB"), parseInt(env("OB_PAGE"), 10));
    r.seconds = (Date.now() - started) / 1000;
    process.stdout.write(JSON.stringify(r) + "\n");
    return;
  }
  const endpoint = env("OB_ENDPOINT");
  const account = env("OB_ACCOUNT");
  const client = new BatchServiceClient(new BatchSharedKeyCredentials(account, env("OB_KEY")), endpoint);
  const poolId = env("OB_POOL");
  const jobId = env("OB_JOB");
  const nTasks = parseInt(env("OB_NTASKS"), 10);
  const pageSize = parseInt(env("OB_PAGE"), 10);
  const out = {};

  // job add + list (following every page).
  await client.job.add({ id: jobId, poolInfo: { poolId } });
  const jobIds = [];
  let jp = await client.job.list({ jobListOptions: { maxResults: 1 } });
  jobIds.push(...jp.map((j) => j.id));
  while (jp.odatanextLink) {
    jp = await client.job.listNext(jp.odatanextLink);
    jobIds.push(...jp.map((j) => j.id));
  }
  out.jobIds = jobIds;
  const job = await client.job.get(jobId);
  out.job = { id: job.id, state: job.state, poolId: job.poolInfo && job.poolInfo.poolId };

  // task add (single).
  await client.task.add(jobId, {
    id: "js-single",
    commandLine: "/bin/sh -c 'echo hello from js; echo to-stderr 1>&2'",
    environmentSettings: [{ name: "GREETING", value: "hi" }],
  });

  // task addCollection.
  const coll = [];
  for (let i = 0; i < nTasks; i++) {
    coll.push({ id: `js-coll-${String(i).padStart(3, "0")}`, commandLine: `/bin/sh -c 'echo coll ${i}'` });
  }
  const res = await client.task.addCollection(jobId, coll);
  out.addCollection = (res.value || []).map((r) => ({ taskId: r.taskId, status: r.status, error: r.error ? r.error.code : null }));

  // Paged listing: maxResults small, follow odatanextLink with listNext.
  const listed = [];
  let pages = 0;
  let page = await client.task.list(jobId, { taskListOptions: { maxResults: pageSize } });
  for (;;) {
    pages++;
    if (page.length > pageSize) throw new Error(`page ${pages} has ${page.length} tasks, more than maxResults ${pageSize}`);
    listed.push(...page.map((t) => t.id));
    if (!page.odatanextLink) break;
    page = await client.task.listNext(page.odatanextLink);
  }
  out.listedTaskIds = listed;
  out.pages = pages;

  // Filtered + selected listing.
  const sel = await client.task.list(jobId, { taskListOptions: { filter: "startswith(id, 'js-single')", select: "id,commandLine", maxResults: 1000 } });
  out.selected = sel.map((t) => ({ id: t.id, commandLine: t.commandLine, state: t.state === undefined ? null : t.state }));

  // task get: wait for completion.
  const deadline = Date.now() + 90000;
  let t;
  for (;;) {
    t = await client.task.get(jobId, "js-single");
    if (t.state === "completed" || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  out.task = {
    id: t.id,
    state: t.state,
    commandLine: t.commandLine,
    env: (t.environmentSettings || []).map((e) => `${e.name}=${e.value}`),
    exitCode: t.executionInfo ? t.executionInfo.exitCode : null,
    result: t.executionInfo ? t.executionInfo.result : null,
    nodeId: t.nodeInfo ? t.nodeInfo.nodeId : null,
  };

  // file getFromTask and listFromTask.
  const f = await client.file.getFromTask(jobId, "js-single", "stdout.txt");
  out.stdout = await readStream(f.readableStreamBody);
  const fe = await client.file.getFromTask(jobId, "js-single", "stderr.txt");
  out.stderr = await readStream(fe.readableStreamBody);
  const files = await client.file.listFromTask(jobId, "js-single");
  out.files = files.map((x) => x.name).sort();

  // Errors: a missing task, and a wrong key.
  try {
    await client.task.get(jobId, "no-such-task");
    out.missingTask = { statusCode: 200 };
  } catch (e) {
    out.missingTask = errInfo(e);
  }
  if (process.env.OB_BAD_KEY) {
    const bad = new BatchServiceClient(new BatchSharedKeyCredentials(account, process.env.OB_BAD_KEY), endpoint);
    try {
      await bad.job.list();
      out.badKey = { statusCode: 200 };
    } catch (e) {
      out.badKey = errInfo(e);
    }
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((e) => {
  process.stderr.write(`batch_client.js failed: ${e && e.stack ? e.stack : e}\n`);
  if (e && e.statusCode) process.stderr.write(`statusCode=${e.statusCode} code=${e.code} body=${JSON.stringify(e.body)}\n`);
  process.exit(1);
});
