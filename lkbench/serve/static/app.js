// lkbench editor page. Plain JS, no dependencies. The server is stateless: every request sends
// the latents it acts on and gets back the new latents with their image. The page keeps the
// current state, the donor and the undo/redo history.
//
// Coordinates: keypoints are (x, y) in [-1, 1], -1 = left/top edge of the image, +1 =
// right/bottom edge; the SVG overlay uses exactly that frame (viewBox -1 -1 2 2).
"use strict";
(() => {
  const DEBOUNCE_MS = 40;        // a drag sends at most one render per 40 ms, latest wins
  const MAX_HISTORY = 200;
  const KP_RADIUS = 0.05;        // drawn keypoint radius, normalised units
  const LIMIT = 1.5;             // a dragged keypoint stays within [-1.5, 1.5]
  const NS = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);

  // Everything the page knows; exposed for tests and the browser console.
  const S = {
    info: null, cur: null, donor: null, undo: [], redo: [], selected: 0, addMode: false,
    pending: 0, renders: 0, dragging: false, interpBase: null, lastError: null,
  };
  window.lkbenchEditor = S;

  // -- server ---------------------------------------------------------------------------------
  async function api(path, body) {
    const init = body === undefined ? {} : {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    };
    let resp;
    S.pending++;
    try {
      resp = await fetch(path, init);
      let data = null;
      try { data = await resp.json(); } catch (_) { /* not JSON: use the status line */ }
      if (!resp.ok) {
        throw new Error((data && data.detail) || `${resp.status} ${resp.statusText}`);
      }
      return data;
    } catch (err) {
      if (err instanceof TypeError) throw new Error(`cannot reach the server (${err.message})`);
      throw err;
    } finally {
      S.pending--;
    }
  }

  function status(msg, isError = false) {
    const el = $("status");
    el.textContent = msg;
    el.classList.toggle("error", isError);
    S.lastError = isError ? msg : null;
  }

  // -- drawing --------------------------------------------------------------------------------
  const slotsOf = (lat) => lat.slots || lat.keypoints[0].map((_, j) => j);
  function colour(slot) {
    const c = S.info.colours[slot % S.info.colours.length];
    return `rgb(${c[0]},${c[1]},${c[2]})`;
  }

  function show(entry) {
    $("image").src = entry.image;
    drawOverlay(entry.latents.keypoints[0], entry.latents);
    S.renders++;
  }

  function drawOverlay(points, lat) {
    const svg = $("overlay");
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const active = lat.active[0], slots = slotsOf(lat);
    points.forEach(([x, y], j) => {
      const c = document.createElementNS(NS, "circle");
      c.setAttribute("cx", x);
      c.setAttribute("cy", y);
      c.setAttribute("r", KP_RADIUS);
      c.setAttribute("class", "kp" + (active[j] ? "" : " removed") +
                     (j === S.selected ? " selected" : ""));
      c.dataset.part = String(j);
      c.style.fill = colour(slots[j]);
      c.style.stroke = active[j] ? "" : colour(slots[j]);
      const title = document.createElementNS(NS, "title");
      title.textContent = `part ${j}` + (slots[j] !== j ? ` (copy of ${slots[j]})` : "") +
        (active[j] ? "" : " — removed");
      c.appendChild(title);
      svg.appendChild(c);
    });
  }

  function drawParts() {
    const body = $("parts").tBodies[0];
    const lat = S.cur.latents, slots = slotsOf(lat), active = lat.active[0];
    const ticked = new Set(tickedParts());
    body.textContent = "";
    const donorK = S.donor ? S.donor.latents.keypoints[0].length : 0;
    slots.forEach((slot, j) => {
      const tr = document.createElement("tr");
      tr.className = (j === S.selected ? "selected " : "") + (active[j] ? "" : "removed");
      tr.dataset.part = String(j);
      const name = document.createElement("td");
      name.className = "name";
      name.innerHTML = `<span class="swatch" style="background:${colour(slot)}"></span>`;
      name.append(`${j}` + (slot !== j ? ` (copy of ${slot})` : ""));
      const tick = document.createElement("td");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.className = "swap";
      box.dataset.part = String(j);
      box.checked = ticked.has(j);
      box.disabled = j >= donorK || slot !== j;   // the donor has no such part
      tick.appendChild(box);
      const act = document.createElement("td");
      const btn = document.createElement("button");
      btn.type = "button";
      btn.className = active[j] ? "remove" : "restore";
      btn.textContent = active[j] ? "Remove" : "Restore";
      btn.addEventListener("click", (e) => {
        e.stopPropagation();
        edit(active[j] ? "remove" : "restore", { part: j });
      });
      act.appendChild(btn);
      tr.append(name, tick, act);
      tr.addEventListener("click", (e) => { if (e.target.tagName !== "INPUT") select(j); });
      body.appendChild(tr);
    });
  }

  function tickedParts() {
    return [...document.querySelectorAll("#parts input.swap:checked")]
      .map((b) => Number(b.dataset.part));
  }

  function updateControls() {
    $("undo").disabled = S.undo.length === 0;
    $("redo").disabled = S.redo.length === 0;
    $("history-info").textContent = `${S.undo.length} back · ${S.redo.length} forward`;
    const noDonor = !S.donor;
    for (const id of ["swap-parts", "swap-background", "swap-global", "interp"]) {
      $(id).disabled = noDonor;
    }
    drawParts();
  }

  function select(j) {
    S.selected = j;
    if (S.cur) { drawOverlay(S.cur.latents.keypoints[0], S.cur.latents); drawParts(); }
  }

  // -- history --------------------------------------------------------------------------------
  function commit(entry) {
    if (S.cur) S.undo.push(S.cur);
    if (S.undo.length > MAX_HISTORY) S.undo.shift();
    S.redo = [];
    S.cur = entry;
    if (S.selected >= entry.latents.keypoints[0].length) S.selected = 0;
    show(entry);
    updateControls();
  }

  function resetInterp() {
    S.interpBase = null;
    $("interp").value = "0";
    $("interp-value").textContent = "0.00";
  }

  function step(from, to) {
    if (!from.length) return;
    to.push(S.cur);
    S.cur = from.pop();
    if (S.selected >= S.cur.latents.keypoints[0].length) S.selected = 0;
    resetInterp();
    show(S.cur);
    updateControls();
  }
  const undo = () => step(S.undo, S.redo);
  const redo = () => step(S.redo, S.undo);

  // -- actions --------------------------------------------------------------------------------
  async function edit(op, params, base = S.cur) {
    const body = { op, latents: base.latents, params };
    const op_ = S.info.ops.find((o) => o.name === op);
    if (op_ && op_.needs_donor) {
      if (!S.donor) { status("load a donor first", true); return null; }
      body.donor = S.donor.latents;
    }
    try {
      const t0 = performance.now();
      const res = await api("/api/edit", body);
      commit(res);
      if (op !== "interpolate") resetInterp();
      status(`${op}: rendered in ${Math.round(performance.now() - t0)} ms`);
      return res;
    } catch (err) {
      status(`${op}: ${err.message}`, true);
      return null;
    }
  }

  async function loadSample(seed) {
    try {
      const res = await api("/api/sample", { seed });
      commit(res);
      resetInterp();
      status(`sample seed ${seed}`);
    } catch (err) { status(`sample: ${err.message}`, true); }
  }

  async function loadDonor(seed) {
    try {
      const res = await api("/api/sample", { seed });
      S.donor = res;
      $("donor").src = res.image;
      resetInterp();
      updateControls();
      status(`donor seed ${seed}`);
    } catch (err) { status(`donor: ${err.message}`, true); }
  }

  const randomSeed = () => Math.floor(Math.random() * 2 ** 31);
  function readSeed(id) {
    const v = Number($(id).value);
    if (!Number.isInteger(v) || v < 0) { status(`${id}: give a whole number >= 0`, true); return null; }
    return v;
  }

  // Coalescing live renderer for drags and the slider: at most one request in flight; while it
  // runs, newer settings replace older ones, so the image follows the pointer without a queue.
  function liveRender(send, onShow) {
    let wanted = null, inflight = false, timer = null, last = null, onDone = null;
    async function pump() {
      timer = null;
      if (inflight || wanted === null) return;
      const params = wanted;
      wanted = null;
      inflight = true;
      try {
        last = { params, result: await send(params) };
        onShow(last.result);
      } catch (err) {
        last = { params, error: err };
        status(err.message, true);
      } finally {
        inflight = false;
      }
      if (wanted !== null) pump();
      else if (onDone) { const done = onDone; onDone = null; done(last); }
    }
    return {
      request(params) {
        wanted = params;
        if (!timer && !inflight) timer = setTimeout(pump, DEBOUNCE_MS);
      },
      finish(params, done) {
        onDone = done;
        if (!(last && JSON.stringify(last.params) === JSON.stringify(params))) wanted = params;
        if (timer) { clearTimeout(timer); timer = null; }
        if (!inflight) {
          if (wanted !== null) pump();
          else { onDone = null; done(last); }
        }
      },
    };
  }

  // -- dragging -------------------------------------------------------------------------------
  let drag = null;
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

  function toNorm(e) {
    const r = $("overlay").getBoundingClientRect();
    return { x: ((e.clientX - r.left) / r.width) * 2 - 1, y: ((e.clientY - r.top) / r.height) * 2 - 1 };
  }

  function dragParams(d, p) {
    const dx = p.x - d.start.x, dy = p.y - d.start.y;
    if (d.kind === "one") {
      const [x0, y0] = d.base.latents.keypoints[0][d.part];
      return { part: d.part, dx: clamp(x0 + dx, -LIMIT, LIMIT) - x0,
               dy: clamp(y0 + dy, -LIMIT, LIMIT) - y0 };
    }
    if (d.kind === "translate") return { scale: 1, dx: clamp(dx, -2, 2), dy: clamp(dy, -2, 2) };
    return { scale: clamp(Math.exp(-1.5 * dy), 0.05, 20), dx: 0, dy: 0 };
  }

  function previewPoints(d, params) {   // where the keypoints will be, drawn before the render
    const kp = d.base.latents.keypoints[0];
    if (d.kind === "one") {
      return kp.map(([x, y], j) => (j === d.part ? [x + params.dx, y + params.dy] : [x, y]));
    }
    const act = d.base.latents.active[0];
    let n = 0, cx = 0, cy = 0;
    kp.forEach(([x, y], j) => { if (act[j]) { cx += x; cy += y; n++; } });
    if (n === 0) { kp.forEach(([x, y]) => { cx += x; cy += y; }); n = kp.length; }
    cx /= n; cy /= n;
    return kp.map(([x, y]) => [params.scale * (x - cx) + cx + params.dx,
                               params.scale * (y - cy) + cy + params.dy]);
  }

  function onPointerDown(e) {
    if (!S.cur || e.button !== 0 || drag) return;
    const p = toNorm(e);
    if (S.addMode) { addPartAt(p); return; }
    const hit = e.target.dataset && e.target.dataset.part !== undefined
      ? Number(e.target.dataset.part) : null;
    if (hit !== null) select(hit);
    const kind = e.shiftKey ? "translate" : e.altKey ? "scale" : hit !== null ? "one" : null;
    if (!kind) return;
    e.preventDefault();
    $("overlay").setPointerCapture(e.pointerId);
    $("overlay").classList.add("dragging");
    const base = S.cur;
    const op = kind === "one" ? "move" : "move-all";
    drag = {
      kind, part: hit, start: p, base, moved: false, params: null,
      live: liveRender(
        (params) => api("/api/edit", { op, latents: base.latents, params }),
        (res) => { $("image").src = res.image; S.renders++; }),
    };
    S.dragging = true;
  }

  function onPointerMove(e) {
    if (!drag) return;
    const p = toNorm(e);
    if (!drag.moved && Math.hypot(p.x - drag.start.x, p.y - drag.start.y) < 0.005) return;
    drag.moved = true;
    drag.params = dragParams(drag, p);
    drawOverlay(previewPoints(drag, drag.params), drag.base.latents);
    drag.live.request(drag.params);
  }

  function onPointerUp(e) {
    if (!drag) return;
    const d = drag;
    drag = null;
    $("overlay").classList.remove("dragging");
    if (!d.moved) { S.dragging = false; return; }
    d.params = dragParams(d, toNorm(e));
    d.live.finish(d.params, (last) => {
      S.dragging = false;
      if (last && last.result) {
        commit(last.result);
        resetInterp();
        status(d.kind === "one" ? `moved part ${d.part}` :
               d.kind === "translate" ? "moved all parts" : "scaled the layout");
      } else {
        show(S.cur);   // the render failed: back to the last good state
      }
    });
  }

  function addPartAt(p) {
    const j = S.selected;
    const [x0, y0] = S.cur.latents.keypoints[0][j];
    setAddMode(false);
    edit("add", { part: j, dx: clamp(p.x, -LIMIT, LIMIT) - x0, dy: clamp(p.y, -LIMIT, LIMIT) - y0 })
      .then((res) => { if (res) select(res.latents.keypoints[0].length - 1); });
  }

  function setAddMode(on) {
    S.addMode = on;
    $("add-mode").setAttribute("aria-pressed", String(on));
    $("overlay").classList.toggle("adding", on);
    if (on) status(`click the image to add a copy of part ${S.selected}`);
  }

  // -- interpolation slider -------------------------------------------------------------------
  let interp = null;
  function onInterpInput() {
    if (!S.donor || !S.cur) return;
    if (S.interpBase === null) S.interpBase = S.cur;
    const base = S.interpBase, t = Number($("interp").value);
    $("interp-value").textContent = t.toFixed(2);
    if (!interp || interp.base !== base) {
      interp = { base, live: liveRender(
        (params) => api("/api/edit", { op: "interpolate", latents: base.latents,
                                       donor: S.donor.latents, params }),
        (res) => { $("image").src = res.image; drawOverlay(res.latents.keypoints[0], res.latents); S.renders++; }) };
    }
    interp.live.request({ t });
  }

  function onInterpChange() {
    if (!interp || !S.donor) return;
    const t = Number($("interp").value), base = interp.base;
    interp.live.finish({ t }, (last) => {
      if (last && last.result) {
        const keep = S.interpBase;
        commit(last.result);
        S.interpBase = keep;            // further slider moves still start from the same base
        status(`interpolated towards the donor, t = ${t.toFixed(2)}`);
      } else if (base) {
        show(S.cur);
      }
    });
  }

  // -- files ----------------------------------------------------------------------------------
  function download(name, href) {
    const a = document.createElement("a");
    a.href = href;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
  }

  function latentsDocument() {
    const doc = { ...S.info.latents_header, latents: S.cur.latents };
    if (S.donor) doc.donor = S.donor.latents;
    return doc;
  }

  async function openLatents(file) {
    let doc;
    try { doc = JSON.parse(await file.text()); } catch (err) {
      status(`${file.name} is not JSON: ${err.message}`, true);
      return;
    }
    if (!doc || doc.format !== "lkbench-latents") {
      status(`${file.name} is not a latents file (saved with 'Download latents')`, true);
      return;
    }
    try {
      const res = await api("/api/render", { latents: doc.latents });
      if (doc.donor) {
        S.donor = await api("/api/render", { latents: doc.donor });
        $("donor").src = S.donor.image;
      }
      commit(res);
      resetInterp();
      status(`opened ${file.name}`);
    } catch (err) { status(`${file.name}: ${err.message}`, true); }
  }

  // -- wiring ---------------------------------------------------------------------------------
  async function start() {
    try {
      S.info = await api("/api/info");
    } catch (err) { status(`cannot load the editor: ${err.message}`, true); return; }
    const i = S.info;
    $("model-info").textContent = `${i.model} · ${i.checkpoint} · ${i.image_size}px · ` +
      `K=${i.num_keypoints} · ${i.device}`;
    const ov = $("overlay");
    ov.addEventListener("pointerdown", onPointerDown);
    ov.addEventListener("pointermove", onPointerMove);
    ov.addEventListener("pointerup", onPointerUp);
    ov.addEventListener("pointercancel", onPointerUp);
    $("load-seed").addEventListener("click", () => {
      const s = readSeed("seed"); if (s !== null) loadSample(s);
    });
    $("resample").addEventListener("click", () => {
      const s = randomSeed(); $("seed").value = String(s); loadSample(s);
    });
    $("load-donor").addEventListener("click", () => {
      const s = readSeed("donor-seed"); if (s !== null) loadDonor(s);
    });
    $("resample-donor").addEventListener("click", () => {
      const s = randomSeed(); $("donor-seed").value = String(s); loadDonor(s);
    });
    $("undo").addEventListener("click", undo);
    $("redo").addEventListener("click", redo);
    $("swap-parts").addEventListener("click", () => {
      const parts = tickedParts();
      if (!parts.length) { status("tick the parts to swap in the Parts table first", true); return; }
      edit("swap-parts", { parts });
    });
    $("swap-background").addEventListener("click", () => edit("swap-background", {}));
    $("swap-global").addEventListener("click", () => edit("swap-global", {}));
    $("add-mode").addEventListener("click", () => setAddMode(!S.addMode));
    $("shrink").addEventListener("click", () => edit("resize", { part: S.selected, factor: 0.8 }));
    $("grow").addEventListener("click", () => edit("resize", { part: S.selected, factor: 1.25 }));
    $("interp").addEventListener("input", onInterpInput);
    $("interp").addEventListener("change", onInterpChange);
    $("download-png").addEventListener("click", () => {
      if (S.cur) download(`lkbench-${i.model}.png`, S.cur.image);
    });
    $("download-latents").addEventListener("click", () => {
      if (!S.cur) return;
      const blob = new Blob([JSON.stringify(latentsDocument())], { type: "application/json" });
      const url = URL.createObjectURL(blob);
      download(`lkbench-${i.model}-latents.json`, url);
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    });
    $("open-latents").addEventListener("change", (e) => {
      if (e.target.files.length) openLatents(e.target.files[0]);
      e.target.value = "";
    });
    document.addEventListener("keydown", (e) => {
      if (e.target.tagName === "INPUT" && e.target.type !== "range") return;
      const mod = e.ctrlKey || e.metaKey;
      if (mod && e.key.toLowerCase() === "z") { e.preventDefault(); (e.shiftKey ? redo : undo)(); }
      else if (mod && e.key.toLowerCase() === "y") { e.preventDefault(); redo(); }
      else if (e.key === "Escape") setAddMode(false);
    });
    window.lkbenchEditor.document = latentsDocument;
    await loadDonor(readSeed("donor-seed") ?? 1);
    await loadSample(readSeed("seed") ?? 0);
    S.undo = [];                          // the first sample is the start, not an edit
    updateControls();
  }

  start();
})();
