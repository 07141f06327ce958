// The Raycrafter dashboard: the API's own calls with the user's token, nothing else.
//
// Live updates are polls with If-None-Match: an unchanged job or list costs the API one
// query and a 304, and the page redraws only what changed (docs/dashboard.md says why not
// server-sent events). The token lives in sessionStorage and only ever travels in the
// Authorization header: images and archives are fetched and shown as blob: URLs.
"use strict";

const API = "/api/v1";
const TOKEN_KEY = "raycrafter-token";
const POLL_MS = 2000;
const FRAME_PAGE = 500;
const FRAME_STATES = ["done", "leased", "pending", "failed"];

const $ = (id) => document.getElementById(id);
const state = { me: null, timer: null, polling: 0, jobsLimit: 50, job: null };
const answers = new Map(); // url -> {etag, body}: what If-None-Match revalidates

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

function token() { return sessionStorage.getItem(TOKEN_KEY); }

async function call(path, options = {}) {
  const headers = new Headers(options.headers || {});
  headers.set("Authorization", `Bearer ${token()}`);
  const response = await fetch(API + path, { ...options, headers, cache: "no-store" });
  if (response.status === 401) { signOut("Your token was not accepted: sign in again."); }
  if (!response.ok && response.status !== 304) {
    let body = null;
    try { body = await response.json(); } catch (ignored) { body = null; }
    throw new ApiError(response.status, body);
  }
  return response;
}

// A JSON answer and whether it changed since the last time this page asked for it.
async function poll(path) {
  const known = answers.get(path);
  const headers = known ? { "If-None-Match": known.etag } : {};
  const response = await call(path, { headers });
  if (response.status === 304 && known) { return { body: known.body, changed: false }; }
  const body = await response.json();
  const etag = response.headers.get("ETag");
  if (etag) { answers.set(path, { etag, body }); }
  return { body, changed: true };
}

async function postJson(path, body) {
  const response = await call(path, { method: "POST", headers: { "Content-Type": "application/json" },
                                      body: JSON.stringify(body || {}) });
  return response.json();
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) { node.textContent = String(text); }
  if (className) { node.className = className; }
  return node;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) {
    const td = document.createElement("td");
    if (cell instanceof Node) { td.appendChild(cell); } else { td.textContent = cell ?? ""; }
    tr.appendChild(td);
  }
  return tr;
}

function when(iso) { return iso ? iso.replace("T", " ").replace("Z", " UTC") : ""; }

function showError(id, error) {
  $(id).textContent = error ? error.message : "";
  delete $(id).dataset.fromPoll;
}

// ---- signing in and the views -------------------------------------------------------

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  answers.clear();
  state.me = null;
  stopPolling();
  $("nav").hidden = true;
  show("sign-in");
  $("sign-in-error").textContent = message || "";
}

async function signIn(event) {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
  $("token").value = "";
  await start();
}

async function start() {
  if (!token()) { signOut(); return; }
  try {
    state.me = await (await call("/me")).json();
  } catch (error) {
    signOut(error.status === 403 ? "This is not a user's token." : error.message);
    return;
  }
  $("whoami").textContent = `${state.me.name} (${state.me.role})`;
  $("nav").hidden = false;
  $("nav-admin").hidden = state.me.role !== "admin";
  $("nav-health").hidden = state.me.role !== "admin";
  $("filter-everyone-label").hidden = state.me.role !== "admin";
  route();
}

function show(section) {
  for (const id of ["sign-in", "jobs-view", "job-view", "submit-view", "admin-view", "health-view"]) {
    $(id).hidden = id !== section;
  }
}

// Each poll loop has a number; a loop whose number is no longer current stops, even one
// whose request was under way when the page moved on.
function stopPolling() { state.polling += 1; clearTimeout(state.timer); state.timer = null; }

function every(refresh, messageId) {
  stopPolling();
  const loop = state.polling;
  const tick = async () => {
    // A poll's own error goes once a poll succeeds; what an action reported stays.
    try {
      await refresh();
      if ($(messageId).dataset.fromPoll) { showError(messageId, null); }
    } catch (error) {
      showError(messageId, error);
      $(messageId).dataset.fromPoll = "yes";
    }
    if (state.polling === loop) { state.timer = setTimeout(tick, POLL_MS); }
  };
  tick();
}

function route() {
  if (!state.me) { return; }
  const hash = location.hash || "#/jobs";
  const job = hash.match(/^#\/jobs\/(\d+)$/);
  stopPolling();
  pausePlayer();
  if (job) { openJob(Number(job[1])); }
  else if (hash === "#/submit") { show("submit-view"); }
  else if (hash === "#/admin" && state.me.role === "admin") { show("admin-view"); every(refreshAdmin, "admin-message"); }
  else if (hash === "#/health" && state.me.role === "admin") { show("health-view"); every(refreshHealth, "health-message"); }
  else { show("jobs-view"); every(refreshJobs, "jobs-message"); }
}

// ---- the job list ---------------------------------------------------------------------

function progressBar(progress, total) {
  const bar = element("div", null, "progress");
  bar.title = FRAME_STATES.map((s) => `${progress[s] || 0} ${s}`).join(", ");
  for (const s of FRAME_STATES) {
    const part = element("span", null, `state-${s}`);
    part.style.width = `${total ? (100 * (progress[s] || 0)) / total : 0}%`;
    bar.appendChild(part);
  }
  return bar;
}

// The time left at the pace so far: frames done since the job was created.
function eta(job) {
  const done = job.progress.done || 0;
  const left = job.frames.count - done - (job.progress.failed || 0);
  if (["done", "failed", "cancelled"].includes(job.state) || left <= 0) { return ""; }
  if (!done) { return "…"; }
  const elapsed = Date.now() - Date.parse(job.created_at);
  const seconds = Math.round((elapsed / done) * left / 1000);
  if (seconds < 60) { return `${seconds} s`; }
  if (seconds < 3600) { return `${Math.round(seconds / 60)} min`; }
  return `${(seconds / 3600).toFixed(1)} h`;
}

function jobsPath() {
  const query = new URLSearchParams({ limit: state.jobsLimit });
  if ($("filter-state").value) { query.set("state", $("filter-state").value); }
  if ($("filter-name").value.trim()) { query.set("name", $("filter-name").value.trim()); }
  if (!$("filter-everyone").checked) { query.set("owner", state.me.name); }
  return `/jobs?${query}`;
}

async function refreshJobs() {
  const path = jobsPath();
  const { body, changed } = await poll(path);
  // An answer to filters since changed is not drawn: a later one is on its way.
  if (!changed || path !== jobsPath()) { return; }
  const selected = new Set(checkedJobs());
  const tbody = $("jobs-table").tBodies[0];
  tbody.replaceChildren();
  for (const job of body.jobs) {
    const box = element("input");
    box.type = "checkbox";
    box.value = job.id;
    box.checked = selected.has(job.id);
    box.setAttribute("aria-label", `select job ${job.id}`);
    const link = element("a", job.id);
    link.href = `#/jobs/${job.id}`;
    const tr = row([box, link, job.name, job.owner, job.state,
                    progressBar(job.progress, job.frames.count), eta(job), when(job.created_at)]);
    tr.dataset.jobId = job.id;
    tr.dataset.state = job.state;
    tbody.appendChild(tr);
  }
  $("jobs-more").hidden = body.next_offset === null;
  updateCancelButton();
}

function checkedJobs() {
  return [...$("jobs-table").querySelectorAll("tbody input:checked")].map((box) => Number(box.value));
}

function updateCancelButton() { $("cancel-selected").disabled = checkedJobs().length === 0; }

async function cancelSelected() {
  const ids = checkedJobs();
  const refused = [];
  for (const id of ids) {
    try { await call(`/jobs/${id}/cancel`, { method: "POST" }); }
    catch (error) { refused.push(`job ${id}: ${error.message}`); }
  }
  showError("jobs-message", refused.length ? new Error(refused.join("; ")) : null);
  for (const box of $("jobs-table").querySelectorAll("tbody input:checked")) { box.checked = false; }
  $("select-all").checked = false;
  await refreshJobs();
}

// ---- one job ------------------------------------------------------------------------

function openJob(id) {
  show("job-view");
  if (state.job) {
    state.job.visible.disconnect();
    for (const url of state.job.thumbnails.values()) { url.then(URL.revokeObjectURL, () => {}); }
  }
  state.job = { id, frames: new Map(), tiles: new Map(), thumbnails: new Map(),
                visible: watchTiles(id), framesCursor: null, player: null, playing: 0 };
  $("thumbnails").replaceChildren();
  $("events-table").tBodies[0].replaceChildren();
  $("frame-log").textContent = "Choose a frame to read its log.";
  $("frame-log-title").textContent = "Frame log";
  $("player-image").removeAttribute("src");
  delete $("player-image").dataset.frame;
  $("player-caption").textContent = "no frame rendered yet";
  $("job-play").textContent = "Play";
  showError("job-message", null);
  every(() => refreshJob(id), "job-message");
}

async function refreshJob(id) {
  const { body: job, changed } = await poll(`/jobs/${id}`);
  if (!state.job || state.job.id !== id) { return; }
  // A frame's image arrives after its job counted it done: frames are asked for each time,
  // only those that changed; the events answer 304 while nothing happened.
  if (changed) { showJob(job); }
  await Promise.all([refreshFrames(id), refreshEvents(id)]);
}

function showJob(job) {
  $("job-title").textContent = `Job ${job.id}: ${job.name}`;
  $("job-summary").textContent = `${job.state} · ${job.owner} · ${job.frames.count} frames ` +
    `${job.frames.first}-${job.frames.last} · ${job.width}x${job.height} · cluster ${job.cluster}` +
    (job.error ? ` · ${job.error}` : "") + (eta(job) ? ` · about ${eta(job)} left` : "");
  $("job-progress").replaceChildren(...progressBar(job.progress, job.frames.count).childNodes);
  $("job-progress").title = FRAME_STATES.map((s) => `${job.progress[s] || 0} ${s}`).join(", ");
  $("job-cancel").disabled = ["done", "failed", "cancelled"].includes(job.state);
  $("job-view").dataset.state = job.state;
}

// Only the frames written since the last poll: a 10,000-frame job costs what moved. The
// poll's later pages are bounded by the cursor its first page gave (`until`) and go by
// frame number, so the frames agents write while it pages do not keep it chasing them:
// they come in the next poll, which asks after that cursor.
async function refreshFrames(id) {
  const after = state.job.framesCursor;
  let from = 0;
  let cursor = null;
  while (from !== null) {
    const query = new URLSearchParams({ limit: FRAME_PAGE, from_number: from });
    if (after) { query.set("after", after); }
    if (cursor) { query.set("until", cursor); }
    const page = await (await call(`/jobs/${id}/frames?${query}`)).json();
    cursor = cursor || page.cursor;
    for (const frame of page.frames) { showFrame(id, frame); }
    from = page.next_number;
  }
  state.job.framesCursor = cursor;
}

// A tile per frame with an image; its thumbnail is fetched once it scrolls into view, so
// a 10,000-frame job loads what is looked at.
function showFrame(id, frame) {
  state.job.frames.set(frame.number, frame);
  if (!frame.image_available || state.job.tiles.has(frame.number)) { return; }
  const tile = element("figure", null, "thumbnail");
  tile.dataset.frame = frame.number;
  const image = element("img");
  image.alt = `frame ${frame.number}`;
  image.width = 120;
  tile.append(image, element("figcaption", `frame ${frame.number}`));
  tile.addEventListener("click", () => openLog(id, frame.number));
  state.job.tiles.set(frame.number, tile);
  const later = [...$("thumbnails").children].find((t) => Number(t.dataset.frame) > frame.number);
  $("thumbnails").insertBefore(tile, later || null);
  state.job.visible.observe(tile);
  if (!state.job.player && !$("player-image").dataset.frame) { showPlayerFrame(frame.number); }
}

async function thumbnail(id, number) {
  if (!state.job.thumbnails.has(number)) {
    const loading = call(`/jobs/${id}/frames/${number}/thumbnail`)
      .then((response) => response.blob()).then((blob) => URL.createObjectURL(blob));
    state.job.thumbnails.set(number, loading);
    loading.catch(() => state.job.thumbnails.delete(number));
  }
  return state.job.thumbnails.get(number);
}

function watchTiles(id) {
  return new IntersectionObserver((entries, observer) => {
    for (const entry of entries.filter((e) => e.isIntersecting)) {
      const number = Number(entry.target.dataset.frame);
      observer.unobserve(entry.target);
      thumbnail(id, number).then((url) => { entry.target.querySelector("img").src = url; });
    }
  }, { rootMargin: "200px" });
}

async function openLog(id, number) {
  for (const tile of $("thumbnails").children) {
    tile.classList.toggle("chosen", Number(tile.dataset.frame) === number);
  }
  $("frame-log-title").textContent = `Frame ${number}: log`;
  try {
    $("frame-log").textContent = await (await call(`/jobs/${id}/frames/${number}/log`)).text() || "(empty)";
  } catch (error) { $("frame-log").textContent = error.message; }
}

async function refreshEvents(id) {
  const { body, changed } = await poll(`/jobs/${id}/events?limit=500`);
  if (!changed) { return; }
  $("events-table").tBodies[0].replaceChildren(...body.events.map((e) =>
    row([when(e.at), e.actor, e.frame ?? "", e.from ?? "", e.to, e.reason ?? ""])));
}

async function showPlayerFrame(number) {
  const url = await thumbnail(state.job.id, number);
  $("player-image").src = url;
  $("player-image").dataset.frame = number;
  $("player-caption").textContent = `frame ${number}`;
}

function pausePlayer() {
  if (state.job && state.job.player) { clearInterval(state.job.player); state.job.player = null; }
  $("job-play").textContent = "Play";
}

// The animation: the thumbnails of the frames rendered so far, in frame order, round and
// round; a frame is shown once its thumbnail is here, so a slow one holds the pace back.
function togglePlayer() {
  if (state.job.player) { pausePlayer(); return; }
  const fps = Math.min(60, Math.max(1, Number($("job-fps").value) || 8));
  let showing = null;
  state.job.player = setInterval(() => {
    const numbers = [...state.job.tiles.keys()].sort((a, b) => a - b);
    if (!numbers.length || showing) { return; }
    state.job.playing = (state.job.playing + 1) % numbers.length;
    showing = showPlayerFrame(numbers[state.job.playing]).finally(() => { showing = null; });
  }, 1000 / fps);
  $("job-play").textContent = "Pause";
}

async function downloadArchive() {
  showError("job-message", null);
  try {
    const response = await call(`/jobs/${state.job.id}/archive`);
    const url = URL.createObjectURL(await response.blob());
    const link = element("a");
    link.href = url;
    link.download = `job-${state.job.id}-frames.zip`;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (error) { showError("job-message", error); }
}

async function cancelJob() {
  try { await call(`/jobs/${state.job.id}/cancel`, { method: "POST" }); }
  catch (error) { showError("job-message", error); }
}

// ---- submitting ---------------------------------------------------------------------

// The form takes its bounds and help from the API's own document of POST /jobs, which the
// API builds from the contract's rules: the page has no copy of them to drift.
async function describeSubmitForm() {
  const document_ = await (await fetch(`${API}/openapi.json`)).json();
  const form = document_.paths["/api/v1/jobs"].post.requestBody.content["multipart/form-data"].schema;
  const options = document_.components.schemas.Options.properties;
  for (const input of $("submit-form").querySelectorAll("[name], [data-option]")) {
    const schema = input.name ? form.properties[input.name] : options[input.dataset.option];
    if (!schema) { continue; }
    if (schema.minimum !== undefined) { input.min = schema.minimum; }
    if (schema.maximum !== undefined) { input.max = schema.maximum; }
    if (schema.maxLength !== undefined) { input.maxLength = schema.maxLength; }
    if (schema.description) { input.title = schema.description; }
  }
  const endings = form.properties.scene.description.split(": ").pop();
  $("submit-form").elements.scene.accept = endings.split(", ").join(",");
}

async function submitScene(event) {
  event.preventDefault();
  const form = $("submit-form");
  for (const input of form.querySelectorAll(".invalid")) { input.classList.remove("invalid"); }
  showError("submit-message", null);
  const data = new FormData();
  for (const input of form.querySelectorAll("[name]")) {
    if (input.type === "file") { data.append(input.name, input.files[0]); }
    else if (input.value.trim() !== "") { data.append(input.name, input.value.trim()); }
  }
  const options = {};
  for (const input of form.querySelectorAll("[data-option]")) {
    if (input.value !== "") { options[input.dataset.option] = JSON.parse(input.value); }
  }
  if (Object.keys(options).length) { data.append("options", JSON.stringify(options)); }
  try {
    const job = await (await call("/jobs", { method: "POST", body: data })).json();
    form.reset();
    location.hash = `#/jobs/${job.id}`;
  } catch (error) {
    showError("submit-message", error);
    const field = error.body && error.body.details && error.body.details.field;
    const input = field && (form.elements[field] || form.querySelector(`[data-option="${field}"]`));
    if (input) { input.classList.add("invalid"); input.focus(); }
  }
}

// ---- an admin's pages ---------------------------------------------------------------

function button(text, action) {
  const node = element("button", text);
  node.type = "button";
  node.addEventListener("click", action);
  return node;
}

function showToken(who, plaintext) {
  $("new-token").hidden = false;
  $("new-token").textContent = `New token for ${who} (shown once, pass it on securely): ${plaintext}`;
}

async function adminAction(action) {
  showError("admin-message", null);
  try { await action(); } catch (error) { showError("admin-message", error); }
  await refreshAdmin();
}

async function refreshAdmin() {
  const [users, tokens, queue] = await Promise.all(
    ["/admin/users", "/admin/tokens", "/admin/queue"].map((path) => poll(path)));
  if (users.changed) {
    $("users-table").tBodies[0].replaceChildren(...users.body.users.map((u) => row([
      u.id, u.name, u.role, u.active_tokens, when(u.created_at), when(u.disabled_at),
      button("New token", () => adminAction(async () => {
        const answer = await postJson(`/admin/users/${u.id}/tokens`);
        showToken(answer.user, answer.token);
      }))])));
  }
  if (tokens.changed) {
    $("tokens-table").tBodies[0].replaceChildren(...tokens.body.tokens.map((t) => {
      const revoke = t.revoked_at ? "" : button("Revoke", () => adminAction(
        () => postJson(`/admin/tokens/${t.id}/revoke`)));
      const tr = row([t.id, t.user, t.prefix, t.managed ? "yes" : "", when(t.created_at),
                      when(t.expires_at) || "never", when(t.revoked_at), revoke]);
      tr.dataset.tokenId = t.id;
      return tr;
    }));
  }
  if (queue.changed) {
    const q = queue.body;
    const clusters = Object.entries(q.clusters).map(([cluster, states]) =>
      `${cluster}: ${Object.entries(states).map(([s, n]) => `${n} ${s}`).join(", ")}`);
    $("queue-summary").textContent = `${clusters.join("; ") || "nothing waiting or running"}` +
      ` · commands not yet sent to the worker: ${q.unsent_commands}` +
      (q.oldest_unsent_command_at ? ` (oldest ${when(q.oldest_unsent_command_at)})` : "");
    $("queue-table").tBodies[0].replaceChildren(...q.jobs.map((job) => {
      const link = element("a", job.id);
      link.href = `#/jobs/${job.id}`;
      return row([link, job.name, job.owner, job.cluster, job.state, job.batch_job_id ?? "",
                  progressBar(job.progress, job.frames.count)]);
    }));
  }
}

async function addUser(event) {
  event.preventDefault();
  await adminAction(async () => {
    const answer = await postJson("/admin/users", { name: $("new-user-name").value.trim(),
                                                    role: $("new-user-role").value });
    showToken(answer.user.name, answer.token);
    $("new-user-name").value = "";
  });
}

// ---- the appliance's health (admins) ---------------------------------------------------
//
// What Prometheus measures, as the API answers it (GET /admin/health): numbers now, graphs
// drawn here as SVG, hosts and their disks, the alerts. Prometheus away is said plainly;
// the rest of the dashboard does not depend on it.

const SVG = "http://www.w3.org/2000/svg";
const GRAPH = { width: 560, height: 180, left: 56, right: 12, top: 12, bottom: 24 };
const LINE_COLOURS = ["#1c7ed6", "#e03131", "#2f9e44", "#f08c00", "#7048e8", "#0c8599", "#c2255c", "#5c940d"];

function svg(tag, attributes, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes || {})) { node.setAttribute(name, String(value)); }
  if (text !== undefined) { node.textContent = String(text); }
  return node;
}

function bytes(count) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = count;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

function measured(value, unit) {
  if (value === null || value === undefined) { return "no data"; }
  if (unit === "fraction") { return `${(100 * value).toFixed(1)} %`; }
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

function clock(seconds) { return new Date(seconds * 1000).toISOString().slice(11, 16) + " UTC"; }

function number(name, value, label, alarm) {
  const tile = element("div", null, alarm ? "number alarm" : "number");
  tile.dataset.name = name;
  tile.append(element("span", value, "value"), element("span", label, "label"));
  return tile;
}

// One graph: a line per series over the window, the value axis from zero.
function drawGraph(graph, start, end) {
  const figure = element("figure", null, "graph");
  figure.dataset.graph = graph.name;
  figure.appendChild(element("figcaption", `${graph.title} (${graph.unit})`));
  const { width, height, left, right, top, bottom } = GRAPH;
  const plot = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
                            "aria-label": graph.title });
  const values = graph.lines.flatMap((line) => line.points.map(([, v]) => v));
  const highest = Math.max(graph.unit === "fraction" ? 1 : 0, ...values) || 1;
  const x = (t) => left + ((t - start) / (end - start)) * (width - left - right);
  const y = (v) => height - bottom - (v / highest) * (height - top - bottom);
  plot.appendChild(svg("rect", { x: left, y: top, width: width - left - right,
                                 height: height - top - bottom, fill: "#fff", stroke: "#ced4da" }));
  plot.appendChild(svg("text", { x: left - 4, y: top + 10, "text-anchor": "end", "font-size": 11 },
                       measured(highest, graph.unit)));
  plot.appendChild(svg("text", { x: left - 4, y: height - bottom, "text-anchor": "end", "font-size": 11 }, "0"));
  plot.appendChild(svg("text", { x: left, y: height - 6, "font-size": 11 }, clock(start)));
  plot.appendChild(svg("text", { x: width - right, y: height - 6, "text-anchor": "end", "font-size": 11 }, clock(end)));
  const legend = element("p", null, "legend");
  graph.lines.forEach((line, index) => {
    const colour = LINE_COLOURS[index % LINE_COLOURS.length];
    const points = line.points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    const drawn = svg("polyline", { points, fill: "none", stroke: colour, "stroke-width": 2 });
    drawn.dataset.label = line.label;
    drawn.appendChild(svg("title", {}, line.label));
    plot.appendChild(drawn);
    const key = element("span", `${line.label}: ${measured(line.latest, graph.unit)}`, "key");
    key.style.borderColor = colour;
    legend.appendChild(key);
  });
  if (!graph.lines.length) { legend.textContent = "Prometheus has no such series in this window."; }
  figure.append(plot, legend);
  return figure;
}

function latestOf(body, graphName, label) {
  const graph = body.graphs.find((g) => g.name === graphName);
  const line = graph && graph.lines.find((l) => l.label === label);
  return line ? line.latest : null;
}

function drawHealth(body) {
  const firing = body.alerts.filter((alert) => alert.state === "firing");
  const targets = body.hosts.flatMap((host) => host.targets);
  const down = targets.filter((target) => !target.up);
  const numbers = Object.entries(body.jobs).map(([s, n]) => number(`jobs-${s}`, n, `jobs ${s}`));
  numbers.push(
    number("frames-per-second", measured(latestOf(body, "frames", "rendered")), "frames rendered a second"),
    number("frames-failed-per-second", measured(latestOf(body, "frames", "failed")), "frames failed a second"),
    number("outbox", measured(latestOf(body, "queues", "outbox")), "commands in the outbox"),
    number("rabbitmq", measured(latestOf(body, "queues", "RabbitMQ")), "messages in RabbitMQ"),
    number("alerts-firing", firing.length, "alerts firing", firing.length > 0),
    number("targets-down", `${down.length} of ${targets.length}`, "targets down", down.length > 0));
  $("health-numbers").replaceChildren(...numbers);
  $("alerts-none").hidden = body.alerts.length > 0;
  $("alerts-table").hidden = body.alerts.length === 0;
  $("alerts-table").tBodies[0].replaceChildren(...body.alerts.map((alert) => {
    const where = Object.entries(alert.labels)
      .filter(([name]) => !["alertname", "severity"].includes(name))
      .map(([name, value]) => `${name}=${value}`).join(" ");
    const since = alert.since ? when(alert.since.replace(/\.\d+/, "")) : "";
    const tr = row([alert.name, alert.state, alert.severity, since, alert.summary, where]);
    tr.className = `alert-${alert.state}`;
    return tr;
  }));
  $("health-graphs").replaceChildren(...body.graphs.map((graph) => drawGraph(graph, body.start, body.end)));
  $("hosts-table").tBodies[0].replaceChildren(...body.hosts.map((host) => {
    const jobs = element("span");
    for (const target of host.targets) {
      jobs.appendChild(element("span", target.job, target.up ? "target up" : "target down"));
    }
    const disks = host.disks.map((disk) => (disk.size_bytes
      ? `${disk.mountpoint}: ${bytes(disk.available_bytes)} free of ${bytes(disk.size_bytes)}`
      : disk.mountpoint)).join("; ");
    return row([host.host, jobs, disks]);
  }));
  $("health-source").textContent = `from Prometheus at ${body.prometheus}, ${clock(body.end)}`;
}

async function refreshHealth() {
  let answer;
  try {
    answer = await poll(`/admin/health?window=${$("health-window").value}`);
  } catch (error) {
    if (error.status !== 503) { throw error; }
    $("health-content").hidden = true;
    throw new Error(`Prometheus cannot be asked, so the appliance's health is unknown here: ` +
                    `${error.message}. The rest of the dashboard works without it.`);
  }
  $("health-content").hidden = false;
  if (answer.changed) { drawHealth(answer.body); }
}

// ---- wiring -------------------------------------------------------------------------

function wire() {
  for (const s of ["pending", "staging", "submitted", "running", "collecting", "done", "failed", "cancelled"]) {
    $("filter-state").appendChild(element("option", s));
  }
  $("sign-in-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", () => signOut());
  $("job-filters").addEventListener("submit", (event) => event.preventDefault());
  for (const id of ["filter-state", "filter-name", "filter-everyone"]) {
    $(id).addEventListener("input", () => { state.jobsLimit = 50; every(refreshJobs, "jobs-message"); });
  }
  $("jobs-more").addEventListener("click", () => { state.jobsLimit += 50; every(refreshJobs, "jobs-message"); });
  $("jobs-table").addEventListener("change", updateCancelButton);
  $("select-all").addEventListener("change", () => {
    for (const box of $("jobs-table").querySelectorAll("tbody input")) { box.checked = $("select-all").checked; }
    updateCancelButton();
  });
  $("cancel-selected").addEventListener("click", cancelSelected);
  $("job-play").addEventListener("click", togglePlayer);
  $("job-download").addEventListener("click", downloadArchive);
  $("job-cancel").addEventListener("click", cancelJob);
  $("submit-form").addEventListener("submit", submitScene);
  $("user-form").addEventListener("submit", addUser);
  $("health-filters").addEventListener("submit", (event) => event.preventDefault());
  $("health-window").addEventListener("input", () => every(refreshHealth, "health-message"));
  window.addEventListener("hashchange", route);
  describeSubmitForm();
  start();
}

wire();
