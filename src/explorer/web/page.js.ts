/**
 * The script of `osless explore --web` (served at /app.js): plain browser JavaScript, no framework, no build
 * step. It reads the JSON API (api.ts) and draws the layer list, the image's dive and exact figures, the lazy
 * file tree with dive's markers, a squarified treemap and the search. Text from the image (paths, commands,
 * link targets) only ever goes into the page through textContent, never as HTML.
 *
 * Kept as a string constant so that it reaches the one-file CLI bundle without a copy step. It must not contain
 * a backquote or a dollar sign followed by a brace (it sits in a template literal); web.test.ts parses it.
 */
export const PAGE_JS = String.raw`"use strict";
(function () {
  var state = {
    info: null,
    layer: 0,
    mode: "layer",
    expanded: new Set([""]),
    dirs: new Map(),
    rows: new Map(),
    selected: null,
    tab: "files",
    treemapPath: "",
    generation: 0,
    searchTimer: 0,
    applying: false,
  };

  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function showError(e) {
    var box = $("error");
    box.textContent = e ? String(e.message || e) + (e.hint ? "\n" + e.hint : "") : "";
    box.hidden = !e;
  }

  async function api(path, params) {
    var qs = new URLSearchParams(params || {}).toString();
    var r = await fetch(path + (qs ? "?" + qs : ""), { headers: { Accept: "application/json" } });
    var body = null;
    try {
      body = await r.json();
    } catch (e) {
      body = null;
    }
    if (!r.ok) {
      var err = new Error(body && body.error ? body.error.message : "HTTP " + r.status);
      err.status = r.status;
      err.hint = body && body.error ? body.error.hint : undefined;
      throw err;
    }
    return body;
  }

  // Sizes as dive prints them (SI units, go-humanize style): 512 B, 1.2 kB, 15 MB.
  function human(n) {
    if (typeof n !== "number") return String(n);
    if (n < 1000) return n + " B";
    var units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    var e = Math.min(Math.floor(Math.log(n) / Math.log(1000)), units.length - 1);
    var v = n / Math.pow(1000, e);
    return (v < 10 ? v.toFixed(1) : v.toFixed(0)) + " " + units[e];
  }

  function bytes(n) {
    return typeof n === "number" ? n.toLocaleString("en-US") + " bytes" : String(n);
  }

  function pct(v, digits) {
    if (v === null || v === undefined) return "n/a";
    if (typeof v !== "number") return String(v);
    return (v * 100).toFixed(digits === undefined ? 2 : digits) + " %";
  }

  // dive writes its paths with a leading "/", the model without one.
  function abs(p) {
    return p.charAt(0) === "/" ? p : "/" + p;
  }

  function short(d) {
    if (!d) return "";
    var i = d.indexOf(":");
    return d.slice(i + 1, i + 13);
  }

  var TYPE_CHAR = { directory: "d", symlink: "l", char: "c", block: "b", fifo: "p", file: "-", hardlink: "-" };

  function modeString(type, mode) {
    var s = TYPE_CHAR[type] || "?";
    var rwx = "rwxrwxrwx";
    for (var i = 0; i < 9; i++) s += mode & (1 << (8 - i)) ? rwx[i] : "-";
    var a = s.split("");
    if (mode & 0o4000) a[3] = a[3] === "x" ? "s" : "S";
    if (mode & 0o2000) a[6] = a[6] === "x" ? "s" : "S";
    if (mode & 0o1000) a[9] = a[9] === "x" ? "t" : "T";
    return a.join("");
  }

  var MARK = { added: "A", modified: "M", removed: "D", unmodified: "" };

  function query(extra) {
    var q = { layer: String(state.layer), mode: state.mode };
    for (var k in extra) q[k] = extra[k];
    return q;
  }

  function parentOf(path) {
    var i = path.lastIndexOf("/");
    return i < 0 ? "" : path.slice(0, i);
  }

  function depthOf(path) {
    return path === "" ? 0 : path.split("/").length;
  }

  // ---- image, layers and figures ----

  function renderHeader() {
    var im = state.info.image;
    $("image-name").textContent = im.name || im.source;
    var meta = [];
    if (im.digest) meta.push("digest " + short(im.digest));
    if (im.id) meta.push("id " + short(im.id));
    if (im.platform) meta.push(im.platform);
    meta.push(state.info.layers.length + " layers");
    meta.push(human(state.info.metrics.exact.totalBytes) + " of layer content");
    $("image-meta").textContent = meta.join(" · ");
    document.title = "osless explore " + (im.name || im.source);
  }

  function renderLayers() {
    var body = $("layers").tBodies[0];
    var rows = [];
    state.info.layers.forEach(function (l) {
      var tr = el("tr");
      tr.dataset.layer = String(l.index);
      var inRange = state.mode === "aggregated" ? l.index >= 1 && l.index <= state.layer : l.index === state.layer;
      if (inRange) tr.classList.add("in-range");
      if (l.index === state.layer) {
        tr.classList.add("selected");
        tr.setAttribute("aria-selected", "true");
      }
      tr.appendChild(el("td", "num", l.index));
      var size = el("td", "num", human(l.size));
      size.title = bytes(l.size);
      tr.appendChild(size);
      var ch = el("td", "changes");
      ch.appendChild(el("span", "c-added", "+" + l.added));
      ch.appendChild(document.createTextNode(" "));
      ch.appendChild(el("span", "c-modified", "~" + l.modified));
      ch.appendChild(document.createTextNode(" "));
      ch.appendChild(el("span", "c-removed", "-" + l.removed));
      ch.title = l.added + " added, " + l.modified + " modified, " + l.removed + " removed";
      tr.appendChild(ch);
      var cmd = l.command || (l.index === 0 ? "FROM " + short(l.diffId) : "");
      var td = el("td", "cmd", cmd);
      if (l.createdBy) td.title = l.createdBy;
      tr.appendChild(td);
      tr.tabIndex = 0;
      tr.addEventListener("click", function () {
        selectLayer(l.index);
      });
      tr.addEventListener("keydown", function (ev) {
        var to = ev.key === "ArrowDown" ? l.index + 1 : ev.key === "ArrowUp" ? l.index - 1 : ev.key === "Enter" ? l.index : -1;
        if (to < 0 || to >= state.info.layers.length) return;
        ev.preventDefault();
        selectLayer(to);
        var next = body.querySelector('tr[data-layer="' + to + '"]');
        if (next) next.focus();
      });
      rows.push(tr);
    });
    body.replaceChildren.apply(body, rows);
  }

  function dl(box, pairs) {
    var items = [];
    pairs.forEach(function (p) {
      if (p[1] === null || p[1] === undefined || p[1] === "") return;
      items.push(el("dt", null, p[0]));
      var dd = el("dd", null, p[1]);
      if (p[2]) dd.title = p[2];
      items.push(dd);
    });
    box.replaceChildren.apply(box, items);
  }

  function renderLayerDetails() {
    var l = state.info.layers[state.layer];
    dl($("layer-details"), [
      ["Index", String(l.index)],
      ["Digest", l.digest],
      ["DiffID", l.diffId],
      ["Media type", l.mediaType],
      ["Size", human(l.size) + " (" + bytes(l.size) + ")", "dive's layer size: the bytes of the layer's regular files"],
      ["Compressed", human(l.compressedSize)],
      ["Entries", String(l.entries)],
      ["Changes", "+" + l.added + " added, ~" + l.modified + " modified, -" + l.removed + " removed"],
      ["Created", l.created],
      ["Command", l.createdBy],
      ["Comment", l.comment],
    ]);
  }

  function table(heads, rows, numeric) {
    var t = el("table");
    var thead = el("thead");
    var hr = el("tr");
    heads.forEach(function (h, i) {
      hr.appendChild(el("th", numeric[i] ? "num" : null, h));
    });
    thead.appendChild(hr);
    t.appendChild(thead);
    var tb = el("tbody");
    rows.forEach(function (r) {
      var tr = el("tr");
      r.forEach(function (c, i) {
        tr.appendChild(el("td", numeric[i] ? "num" : i === r.length - 1 ? "path" : null, c));
      });
      tb.appendChild(tr);
    });
    t.appendChild(tb);
    return t;
  }

  function fig(box, label, value, title) {
    var d = el("div", "fig");
    d.appendChild(el("span", "fig-label", label + ": "));
    var v = el("span", "fig-value", value);
    if (title) v.title = title;
    d.appendChild(v);
    box.appendChild(d);
    return v;
  }

  var SHOWN = 10;

  function renderMetrics() {
    var m = state.info.metrics;
    var dive = m.dive;
    var exact = m.exact;
    var out = $("metrics");
    out.replaceChildren();

    var a = el("div", "metric-box");
    a.id = "metrics-dive";
    a.appendChild(el("h3", null, "dive-compatible figures"));
    a.appendChild(
      el(
        "p",
        "sub",
        "As dive computes them, defects included: every copy of a path seen in several layers counts as waste, the copy kept too; a removed directory is not counted; metadata-only rewrites look like any duplicate.",
      ),
    );
    var eff = typeof dive.efficiency === "number" ? Math.floor(100 * dive.efficiency) + " %" : String(dive.efficiency);
    fig(a, "Efficiency", eff, String(dive.efficiency)).className = "fig-value big";
    fig(a, "Potential wasted space", human(dive.wastedBytes), bytes(dive.wastedBytes));
    fig(a, "User wasted percent", pct(dive.userWastedPercent), "wasted bytes / bytes of the layers above the first");
    fig(a, "Total size", human(dive.sizeBytes), bytes(dive.sizeBytes));
    var ineff = dive.inefficient.slice(0, SHOWN).map(function (f) {
      return [String(f.count), human(f.sizeBytes), abs(f.file)];
    });
    if (ineff.length) a.appendChild(table(["Count", "Total Space", "Path"], ineff, [true, true, false]));
    if (dive.inefficientCount > SHOWN) a.appendChild(el("p", "sub", "and " + (dive.inefficientCount - SHOWN) + " more"));
    out.appendChild(a);

    var b = el("div", "metric-box");
    b.id = "metrics-exact";
    b.appendChild(el("h3", null, "osless exact figures"));
    b.appendChild(
      el(
        "p",
        "sub",
        "What squashing the image would reclaim: bytes the layers ship that are not in the final filesystem, each hidden copy with its cause.",
      ),
    );
    fig(b, "Efficiency", pct(exact.efficiency), "final bytes / total bytes").className = "fig-value big";
    fig(b, "Wasted bytes", human(exact.wastedBytes) + " (" + bytes(exact.wastedBytes) + ")");
    fig(b, "Final filesystem", human(exact.finalBytes) + " of " + human(exact.totalBytes) + " shipped");
    fig(
      b,
      "User wasted",
      human(exact.userWastedBytes) + " = " + pct(exact.userWastedPercent) + " of " + human(exact.userBytes),
      "waste added above the " + exact.baseLayers + " base layer(s), over the bytes of those layers",
    );
    fig(
      b,
      "By cause",
      "overwritten " +
        human(exact.byCause.overwritten) +
        ", deleted " +
        human(exact.byCause.deleted) +
        ", metadata-only " +
        human(exact.byCause["metadata-only"]),
    );
    var waste = exact.waste.slice(0, SHOWN).map(function (w) {
      return [human(w.bytes), w.cause, w.layer + " → " + w.by, abs(w.path)];
    });
    if (waste.length) b.appendChild(table(["Bytes", "Cause", "Layers", "Path"], waste, [true, false, false, false]));
    if (exact.wasteCount > SHOWN) b.appendChild(el("p", "sub", "and " + (exact.wasteCount - SHOWN) + " more"));
    out.appendChild(b);
  }

  // ---- the file tree ----

  async function loadDir(path, offset) {
    var gen = state.generation;
    var r = await api("/api/tree", query({ path: path, offset: String(offset || 0) }));
    if (gen !== state.generation) return false;
    var d = state.dirs.get(path);
    if (d && offset) {
      d.children = d.children.concat(r.children);
      d.total = r.total;
    } else {
      state.dirs.set(path, { path: path, node: r.node, children: r.children, total: r.total });
    }
    return true;
  }

  function fileUrl(path) {
    return "/api/file?" + new URLSearchParams({ layer: String(state.layer), path: path }).toString();
  }

  function rowFor(e, depth) {
    var row = el("div", "row m-" + e.marker);
    row.setAttribute("role", "treeitem");
    row.dataset.path = e.path;
    row.dataset.type = e.type;
    row.dataset.marker = e.marker;
    row.dataset.size = String(e.size);
    row.appendChild(el("span", "marker", MARK[e.marker]));
    row.appendChild(el("span", "perm", modeString(e.type, e.mode)));
    row.appendChild(el("span", "owner", e.uid + ":" + e.gid));
    var size = el("span", "size", e.type === "file" || e.type === "directory" ? human(e.size) : "");
    size.title = bytes(e.size);
    row.appendChild(size);
    var name = el("span", "name");
    name.style.paddingLeft = depth * 1.2 + "rem";
    var isDir = e.type === "directory";
    var tog = el("span", "toggle", isDir ? (state.expanded.has(e.path) ? "▾" : "▸") : "");
    if (isDir) {
      row.setAttribute("aria-expanded", state.expanded.has(e.path) ? "true" : "false");
      tog.addEventListener("click", function (ev) {
        ev.stopPropagation();
        toggleDir(e.path);
      });
      row.addEventListener("dblclick", function () {
        toggleDir(e.path);
      });
    }
    name.appendChild(tog);
    name.appendChild(el("span", "label", e.name + (isDir ? "/" : "")));
    if (e.linkTarget !== undefined) name.appendChild(el("span", "link-target", " → " + e.linkTarget));
    if (e.hardlinkTo !== undefined) name.appendChild(el("span", "link-target", " link to /" + e.hardlinkTo));
    row.appendChild(name);
    if (e.type === "file" && e.marker !== "removed") {
      var a = el("a", "dl", "⤓");
      a.href = fileUrl(e.path);
      a.setAttribute("download", e.name);
      a.title = "Download /" + e.path + " as of layer " + state.layer;
      a.setAttribute("aria-label", "Download /" + e.path);
      a.addEventListener("click", function (ev) {
        ev.stopPropagation();
      });
      row.appendChild(a);
    }
    row.tabIndex = -1;
    if (state.selected === e.path) row.classList.add("selected");
    row.addEventListener("click", function () {
      select(e.path);
    });
    state.rows.set(e.path, { row: row, entry: e });
    return row;
  }

  function addRows(out, dir, depth) {
    dir.children.forEach(function (e) {
      out.push(rowFor(e, depth));
      if (e.type === "directory" && state.expanded.has(e.path)) {
        var sub = state.dirs.get(e.path);
        if (sub) addRows(out, sub, depth + 1);
        else out.push(el("div", "row loading", "loading…"));
      }
    });
    if (dir.children.length < dir.total) {
      var more = el("div", "row more", "… " + (dir.total - dir.children.length) + " more entries: show more");
      more.style.paddingLeft = depth * 1.2 + 1.5 + "rem";
      more.dataset.more = dir.path;
      more.addEventListener("click", async function () {
        try {
          await loadDir(dir.path, dir.children.length);
          renderTree();
        } catch (e) {
          showError(e);
        }
      });
      out.push(more);
    }
  }

  function renderTree() {
    var tree = $("tree");
    var hadFocus = tree.contains(document.activeElement);
    state.rows = new Map();
    var rows = [];
    var root = state.dirs.get("");
    if (root) addRows(rows, root, 0);
    tree.replaceChildren.apply(tree, rows);
    if (hadFocus) {
      var sel = state.selected !== null ? state.rows.get(state.selected) : undefined;
      (sel ? sel.row : tree).focus({ preventScroll: true });
    }
    $("tree-title").textContent =
      (state.mode === "layer"
        ? "Current layer contents: layer " + state.layer + " against layers below"
        : "Aggregated contents: layers 1 to " + state.layer + " against the base layer") +
      (state.layer === 0 ? " (the first layer marks nothing)" : "");
    renderSelection();
  }

  async function toggleDir(path) {
    try {
      if (state.expanded.has(path)) {
        state.expanded.delete(path);
        renderTree();
        return;
      }
      state.expanded.add(path);
      renderTree();
      if (!state.dirs.has(path)) {
        await loadDir(path, 0);
        renderTree();
      }
    } catch (e) {
      showError(e);
    }
  }

  function select(path) {
    state.selected = path;
    state.rows.forEach(function (v, k) {
      v.row.classList.toggle("selected", k === path);
    });
    renderSelection();
    writeHash();
  }

  // Keys as in dive's tree pane: up/k, down/j, right/l opens a directory (or enters it), left/h closes it (or goes
  // to the parent), space or enter opens and closes.
  function treeKey(ev) {
    var rows = Array.prototype.slice.call($("tree").querySelectorAll(".row[data-path]"));
    if (rows.length === 0) return;
    var i = rows.findIndex(function (r) {
      return r.dataset.path === state.selected;
    });
    var cur = i >= 0 ? state.rows.get(state.selected) : undefined;
    var isDir = cur && cur.entry.type === "directory";
    var open = isDir && state.expanded.has(cur.entry.path);
    var go = function (k) {
      var r = rows[Math.max(0, Math.min(rows.length - 1, k))];
      select(r.dataset.path);
      r.focus();
      r.scrollIntoView({ block: "nearest" });
    };
    switch (ev.key) {
      case "ArrowDown":
      case "j":
        go(i + 1);
        break;
      case "ArrowUp":
      case "k":
        go(i < 0 ? 0 : i - 1);
        break;
      case "ArrowRight":
      case "l":
        if (!cur) go(0);
        else if (isDir && !open) toggleDir(cur.entry.path);
        else if (open) go(i + 1);
        break;
      case "ArrowLeft":
      case "h":
        if (!cur) go(0);
        else if (open) toggleDir(cur.entry.path);
        else if (cur.entry.path.indexOf("/") > 0) {
          var parent = parentOf(cur.entry.path);
          go(
            rows.findIndex(function (r) {
              return r.dataset.path === parent;
            }),
          );
        }
        break;
      case " ":
      case "Enter":
        if (isDir) toggleDir(cur.entry.path);
        break;
      default:
        return;
    }
    ev.preventDefault();
  }

  function renderSelection() {
    var box = $("selection");
    var r = state.selected !== null ? state.rows.get(state.selected) : undefined;
    if (!r) {
      box.textContent = "";
      return;
    }
    var e = r.entry;
    var parts = ["/" + e.path, e.type, human(e.size) + " (" + bytes(e.size) + ")", modeString(e.type, e.mode), e.uid + ":" + e.gid];
    if (e.marker !== "unmodified") parts.push(e.marker + " by layer " + e.layer);
    else parts.push("from layer " + e.layer);
    if (e.linkTarget !== undefined) parts.push("→ " + e.linkTarget);
    box.textContent = parts.join(" · ");
  }

  // Loads the tree again for the current layer and mode, keeping the directories that were open.
  async function reloadTree() {
    state.generation++;
    var gen = state.generation;
    var wanted = Array.from(state.expanded);
    state.dirs = new Map();
    var open = new Set([""]);
    var byDepth = new Map();
    wanted.forEach(function (p) {
      var d = depthOf(p);
      if (!byDepth.has(d)) byDepth.set(d, []);
      byDepth.get(d).push(p);
    });
    var depths = Array.from(byDepth.keys()).sort(function (a, b) {
      return a - b;
    });
    for (var i = 0; i < depths.length; i++) {
      var level = byDepth.get(depths[i]).filter(function (p) {
        if (p === "") return true;
        if (!open.has(parentOf(p))) return false;
        var parent = state.dirs.get(parentOf(p));
        return (
          parent &&
          parent.children.some(function (c) {
            return c.path === p && c.type === "directory";
          })
        );
      });
      var results = await Promise.all(
        level.map(function (p) {
          return loadDir(p, 0).then(
            function (ok) {
              return ok ? p : null;
            },
            function (e) {
              if (e.status === 404) return null;
              throw e;
            },
          );
        }),
      );
      if (gen !== state.generation) return;
      results.forEach(function (p) {
        if (p !== null) open.add(p);
      });
    }
    // Directories the user opened or closed while this reload ran (on the rows still shown) stay so.
    var now = state.expanded;
    now.forEach(function (p) {
      if (wanted.indexOf(p) < 0) open.add(p);
    });
    wanted.forEach(function (p) {
      if (p !== "" && !now.has(p)) open.delete(p);
    });
    state.expanded = open;
    renderTree();
  }

  // Opens every directory above path (loading further pages where needed), selects it and scrolls to it. False
  // (and nothing opened or selected) when the tree of the layer shown has no such path.
  async function reveal(path) {
    showTab("files");
    var parts = path.split("/");
    var dir = "";
    var opened = [];
    for (var i = 0; i < parts.length; i++) {
      var child = dir === "" ? parts[i] : dir + "/" + parts[i];
      if (!state.dirs.has(dir)) await loadDir(dir, 0);
      var d = state.dirs.get(dir);
      if (!d) return false;
      var has = function (c) {
        return c.path === child;
      };
      while (!d.children.some(has) && d.children.length < d.total) {
        if (!(await loadDir(dir, d.children.length))) return false;
      }
      var entry = d.children.find(has);
      if (!entry || (i < parts.length - 1 && entry.type !== "directory")) return false;
      opened.push(dir);
      dir = child;
    }
    opened.forEach(function (p) {
      state.expanded.add(p);
    });
    state.selected = path;
    renderTree();
    writeHash();
    var r = state.rows.get(path);
    if (r) {
      r.row.scrollIntoView({ block: "center" });
      r.row.classList.add("selected");
    }
    return true;
  }

  // ---- layer and mode ----

  async function refresh() {
    renderLayers();
    renderLayerDetails();
    try {
      showError(null);
      var jobs = [reloadTree()];
      if (state.tab === "treemap") jobs.push(loadTreemap());
      if (!$("search-panel").hidden) jobs.push(runSearch());
      await Promise.all(jobs);
    } catch (e) {
      showError(e);
    }
  }

  function selectLayer(i) {
    if (i === state.layer) return;
    state.layer = i;
    writeHash();
    refresh();
  }

  function selectMode(m) {
    if (m === state.mode) return;
    state.mode = m;
    writeHash();
    refresh();
  }

  // ---- the view in the URL: #layer=2&mode=aggregated&path=/etc/passwd&tab=files ----

  // The hash's fields; a value with a malformed escape is left out.
  function readHash() {
    var out = new Map();
    var h = location.hash.replace(/^#/, "");
    if (h === "") return out;
    h.split("&").forEach(function (kv) {
      var i = kv.indexOf("=");
      if (i <= 0) return;
      try {
        out.set(kv.slice(0, i), decodeURIComponent(kv.slice(i + 1)));
      } catch (e) {
        // not a valid escape: ignored, the default stands
      }
    });
    return out;
  }

  // The view the URL asks for: what is missing, invalid or out of range falls back to the default (the last
  // layer, its own changes, no selection, the files tab).
  function wantedView() {
    var h = readHash();
    var n = state.info.layers.length;
    var w = { layer: Math.max(0, n - 1), mode: "layer", tab: "files", path: null };
    var l = h.get("layer");
    if (l !== undefined && /^[0-9]{1,9}$/.test(l) && Number(l) < n) w.layer = Number(l);
    var m = h.get("mode");
    if (m === "layer" || m === "aggregated") w.mode = m;
    var t = h.get("tab");
    if (t === "files" || t === "treemap") w.tab = t;
    var p = h.get("path");
    if (p !== undefined) {
      p = p.replace(/^[/]+/, "").replace(/[/]+$/, "");
      var ok =
        p !== "" &&
        p.split("/").every(function (s) {
          return s !== "" && s !== "." && s !== "..";
        });
      if (ok) w.path = p;
    }
    return w;
  }

  // Puts the view in the URL without a history entry per click.
  function writeHash() {
    if (!state.info || state.applying) return;
    var parts = ["layer=" + state.layer, "mode=" + state.mode];
    if (state.selected !== null) parts.push("path=" + encodeURIComponent("/" + state.selected).replace(/%2F/g, "/"));
    parts.push("tab=" + state.tab);
    var h = "#" + parts.join("&");
    if (h !== location.hash) history.replaceState(history.state, "", h);
  }

  // Shows the view of the URL: on load (first) and when the hash changes.
  async function applyHash(first) {
    var w = wantedView();
    state.applying = true;
    try {
      if (first || w.layer !== state.layer || w.mode !== state.mode) {
        state.layer = w.layer;
        state.mode = w.mode;
        $("mode-" + w.mode).checked = true;
        if (first) {
          renderLayers();
          renderLayerDetails();
          await reloadTree();
        } else {
          await refresh();
        }
      }
      var found = w.path !== null && w.path === state.selected && state.rows.has(w.path);
      if (w.path !== null && !found) {
        try {
          found = await reveal(w.path);
        } catch (e) {
          if (e.status !== 404) throw e;
        }
      }
      if (!found && state.selected !== null) select(null);
      if (w.tab !== state.tab) showTab(w.tab);
    } finally {
      state.applying = false;
    }
    if (location.hash !== "") writeHash();
  }

  // ---- tabs ----

  function showTab(name) {
    state.tab = name;
    writeHash();
    ["files", "treemap"].forEach(function (t) {
      $("tab-" + t).setAttribute("aria-selected", t === name ? "true" : "false");
      $("view-" + t).hidden = t !== name;
    });
    if (name === "treemap") loadTreemap().catch(showError);
  }

  // ---- treemap ----

  // Squarified treemap (Bruls, Huizing, van Wijk): items sorted by size, largest first; rows laid along the
  // shorter side, an item joining the row while it does not make the row's worst aspect ratio worse.
  function squarify(items, x, y, w, h) {
    var total = 0;
    items.forEach(function (it) {
      total += it.size;
    });
    var out = [];
    if (total <= 0 || w <= 0 || h <= 0) return out;
    var scale = (w * h) / total;
    var areas = items.map(function (it) {
      return it.size * scale;
    });
    function worst(row, side) {
      var s = 0;
      var mx = 0;
      var mn = Infinity;
      row.forEach(function (k) {
        var a = areas[k];
        s += a;
        if (a > mx) mx = a;
        if (a < mn) mn = a;
      });
      var s2 = s * s;
      var side2 = side * side;
      return Math.max((side2 * mx) / s2, s2 / (side2 * mn));
    }
    function place(row) {
      var s = 0;
      row.forEach(function (k) {
        s += areas[k];
      });
      var off = 0;
      if (w >= h) {
        var cw = s / h;
        row.forEach(function (k) {
          var ih = areas[k] / cw;
          out.push({ item: items[k], x: x, y: y + off, w: cw, h: ih });
          off += ih;
        });
        x += cw;
        w -= cw;
      } else {
        var rh = s / w;
        row.forEach(function (k) {
          var iw = areas[k] / rh;
          out.push({ item: items[k], x: x + off, y: y, w: iw, h: rh });
          off += iw;
        });
        y += rh;
        h -= rh;
      }
    }
    var row = [];
    var i = 0;
    while (i < items.length) {
      var side = Math.min(w, h);
      if (row.length === 0 || worst(row.concat([i]), side) <= worst(row, side)) {
        row.push(i);
        i++;
      } else {
        place(row);
        row = [];
      }
    }
    if (row.length) place(row);
    return out;
  }

  function box(parent, r, cls) {
    var b = el("div", "tm " + cls);
    b.style.left = r.x + "px";
    b.style.top = r.y + "px";
    b.style.width = Math.max(r.w, 0) + "px";
    b.style.height = Math.max(r.h, 0) + "px";
    parent.appendChild(b);
    return b;
  }

  // Directories are drawn with their children inside (as deep as the answer goes and the box is big enough to
  // read); each top-level entry gets a hue that its subtree keeps, added and modified files their marker colour.
  function layoutInto(parent, node, x, y, w, h, depth, hue) {
    var items = (node.children || []).map(function (c) {
      return { node: c, size: c.size };
    });
    if (node.rest && node.rest.size > 0) items.push({ rest: node.rest, size: node.rest.size });
    items.sort(function (a, b) {
      return b.size - a.size;
    });
    squarify(items, x, y, w, h).forEach(function (r, i) {
      if (r.item.rest) {
        var rb = box(parent, r, "tm-rest");
        rb.title = r.item.rest.count + " more entries, " + human(r.item.rest.size);
        if (r.w > 50 && r.h > 14) rb.appendChild(el("div", "tm-label", r.item.rest.count + " more"));
        return;
      }
      var n = r.item.node;
      var h2 = depth === 0 ? (i * 67 + 200) % 360 : hue;
      var isDir = n.type === "directory";
      var b = box(parent, r, (isDir ? "tm-dir" : "tm-file") + " m-" + n.marker);
      if (isDir) b.style.backgroundColor = "hsl(" + h2 + ", 25%, " + Math.max(93 - depth * 5, 70) + "%)";
      else if (n.marker !== "added" && n.marker !== "modified") b.style.backgroundColor = "hsl(" + h2 + ", 60%, 80%)";
      b.dataset.path = n.path;
      b.dataset.size = String(n.size);
      b.dataset.type = n.type;
      b.dataset.depth = String(depth);
      b.title = "/" + n.path + (isDir ? "/" : "") + "\n" + human(n.size) + " (" + bytes(n.size) + ")";
      if (r.w > 36 && r.h > 14) b.appendChild(el("div", "tm-label", n.name + (isDir ? "/" : "") + " " + human(n.size)));
      b.addEventListener("click", function (ev) {
        ev.stopPropagation();
        if (isDir) {
          state.treemapPath = n.path;
          loadTreemap().catch(showError);
        } else {
          reveal(n.path).catch(showError);
        }
      });
      if (isDir && n.children && r.w > 40 && r.h > 36) layoutInto(b, n, 2, 16, r.w - 6, r.h - 20, depth + 1, h2);
    });
  }

  function renderCrumbs() {
    var nav = $("crumbs");
    var items = [];
    var parts = state.treemapPath === "" ? [] : state.treemapPath.split("/");
    var mk = function (label, path) {
      var b = el("button", null, label);
      b.type = "button";
      b.dataset.path = path;
      b.addEventListener("click", function () {
        state.treemapPath = path;
        loadTreemap().catch(showError);
      });
      return b;
    };
    items.push(mk("/", ""));
    var acc = "";
    parts.forEach(function (p, i) {
      acc = acc === "" ? p : acc + "/" + p;
      items.push(mk(p + (i < parts.length - 1 ? "/" : ""), acc));
    });
    nav.replaceChildren.apply(nav, items);
  }

  async function loadTreemap() {
    var gen = state.generation;
    var r;
    try {
      r = await api("/api/treemap", query({ path: state.treemapPath, depth: "3", limit: "30" }));
    } catch (e) {
      if (e.status !== 404 || state.treemapPath === "") throw e;
      state.treemapPath = "";
      r = await api("/api/treemap", query({ path: "", depth: "3", limit: "30" }));
    }
    if (gen !== state.generation) return;
    renderCrumbs();
    $("treemap-title").textContent =
      "Sizes as of layer " + state.layer + ": /" + state.treemapPath + " (" + human(r.root.size) + ")";
    var tm = $("treemap");
    tm.replaceChildren();
    layoutInto(tm, r.root, 0, 0, tm.clientWidth, tm.clientHeight, 0, 0);
    $("treemap-note").textContent =
      "Area is size. Click a directory to zoom in, a file to show it in the tree. Each top-level entry has its own hue; green files were added, yellow ones modified (in the compare mode of the tree).";
  }

  // ---- search ----

  async function runSearch() {
    var q = $("search").value;
    var panel = $("search-panel");
    if (q === "") {
      panel.hidden = true;
      return;
    }
    panel.hidden = false;
    var err = $("search-error");
    var list = $("results");
    $("search-status").textContent = "searching…";
    var regex = $("regex").checked;
    var r;
    try {
      r = await api("/api/search", query({ q: q, regex: regex ? "1" : "0" }));
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
      list.replaceChildren();
      $("search-status").textContent = "";
      return;
    }
    if (q !== $("search").value) return;
    err.hidden = true;
    $("search-status").textContent =
      (r.matches.length === 0 ? "no match" : r.matches.length + (r.matches.length === 1 ? " match" : " matches")) +
      (r.truncated ? " (the first " + r.matches.length + "; refine the search)" : "") +
      " as of layer " +
      r.layer;
    var items = r.matches.map(function (m) {
      var li = el("li");
      var b = el("button", "m-" + m.marker, "/" + m.path + (m.type === "directory" ? "/" : ""));
      b.type = "button";
      b.dataset.path = m.path;
      b.addEventListener("click", function () {
        reveal(m.path).catch(showError);
      });
      li.appendChild(b);
      li.appendChild(el("span", "meta", (MARK[m.marker] ? MARK[m.marker] + " " : "") + human(m.size)));
      return li;
    });
    list.replaceChildren.apply(list, items);
  }

  // ---- start ----

  function wire() {
    $("mode-layer").addEventListener("change", function () {
      selectMode("layer");
    });
    $("mode-aggregated").addEventListener("change", function () {
      selectMode("aggregated");
    });
    $("tab-files").addEventListener("click", function () {
      showTab("files");
    });
    $("tab-treemap").addEventListener("click", function () {
      showTab("treemap");
    });
    $("search-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      clearTimeout(state.searchTimer);
      runSearch().catch(showError);
    });
    $("search").addEventListener("input", function () {
      clearTimeout(state.searchTimer);
      state.searchTimer = setTimeout(function () {
        runSearch().catch(showError);
      }, 300);
    });
    $("regex").addEventListener("change", function () {
      if ($("search").value !== "") runSearch().catch(showError);
    });
    $("search-close").addEventListener("click", function () {
      $("search-panel").hidden = true;
    });
    $("tree").addEventListener("keydown", treeKey);
    $("search").addEventListener("keydown", function (ev) {
      if (ev.key === "Escape") $("search-panel").hidden = true;
    });
    document.addEventListener("keydown", function (ev) {
      var t = ev.target;
      var typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA");
      if (ev.key === "/" && !typing && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
        ev.preventDefault();
        $("search").focus();
      }
    });
    window.addEventListener("hashchange", function () {
      if (state.info) applyHash(false).catch(showError);
    });
    var resizeTimer = 0;
    window.addEventListener("resize", function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(function () {
        if (state.tab === "treemap") loadTreemap().catch(showError);
      }, 200);
    });
  }

  async function start() {
    wire();
    try {
      state.info = await api("/api/image");
      renderHeader();
      renderMetrics();
      await applyHash(true);
      document.body.dataset.ready = "true";
    } catch (e) {
      showError(e);
    }
  }

  start();
})();
`;
