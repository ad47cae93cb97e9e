/**
 * The page of `osless explore --web` (served at /). Static: everything on it is filled in by /app.js from the
 * JSON API; no inline script or style (the Content-Security-Policy forbids both). Kept as a string constant so
 * that the page reaches the one-file CLI bundle and the tsc output without a copy step.
 */
export const PAGE_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>osless explore</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body>
<header id="top">
  <h1>osless explore</h1>
  <div id="image-name" class="image-name">loading…</div>
  <div id="image-meta" class="image-meta"></div>
</header>
<div id="error" class="error" role="alert" hidden></div>
<main>
  <aside id="side">
    <section class="panel" aria-labelledby="layers-title">
      <h2 id="layers-title">Layers</h2>
      <div class="mode" role="radiogroup" aria-label="Compare mode">
        <span class="label">Compare:</span>
        <label><input type="radio" name="mode" value="layer" id="mode-layer" checked> this layer (vs layers below)</label>
        <label><input type="radio" name="mode" value="aggregated" id="mode-aggregated"> aggregated (vs base layer)</label>
      </div>
      <table id="layers" class="layers">
        <thead><tr><th>#</th><th class="num">Size</th><th class="changes">Changes</th><th>Command</th></tr></thead>
        <tbody></tbody>
      </table>
    </section>
    <section class="panel" aria-labelledby="layer-title">
      <h2 id="layer-title">Layer details</h2>
      <dl id="layer-details" class="details"></dl>
    </section>
    <section class="panel" aria-labelledby="image-title">
      <h2 id="image-title">Image details</h2>
      <div id="metrics"></div>
    </section>
  </aside>
  <section id="content" class="panel">
    <div class="toolbar">
      <div class="tabs" role="tablist">
        <button type="button" role="tab" id="tab-files" class="tab" aria-selected="true" aria-controls="view-files">Files</button>
        <button type="button" role="tab" id="tab-treemap" class="tab" aria-selected="false" aria-controls="view-treemap">Treemap</button>
      </div>
      <form id="search-form" class="search" role="search">
        <input type="search" id="search" placeholder="Search paths (e.g. /etc/ or \.so$)" autocomplete="off" spellcheck="false" aria-label="Search paths">
        <label title="Treat the search as a regular expression"><input type="checkbox" id="regex"> regex</label>
        <button type="submit">Search</button>
      </form>
    </div>
    <div id="search-panel" class="search-panel" hidden>
      <div class="search-head"><span id="search-status"></span><button type="button" id="search-close" class="link">close</button></div>
      <div id="search-error" class="error" hidden></div>
      <ol id="results" class="results"></ol>
    </div>
    <div id="view-files" role="tabpanel" aria-labelledby="tab-files">
      <div id="tree-title" class="view-title"></div>
      <div class="legend"><span class="m-added">A added</span> <span class="m-modified">M modified</span> <span class="m-removed">D removed</span> <span>unmodified</span></div>
      <div class="tree-head row"><span class="marker"></span><span class="perm">Permission</span><span class="owner">UID:GID</span><span class="size">Size</span><span class="name">Name</span></div>
      <div id="tree" class="tree" role="tree" aria-label="Files (keys: up, down, left, right, space; / to search)" tabindex="0"></div>
      <div id="selection" class="selection"></div>
    </div>
    <div id="view-treemap" role="tabpanel" aria-labelledby="tab-treemap" hidden>
      <div id="treemap-title" class="view-title"></div>
      <nav id="crumbs" class="crumbs" aria-label="Treemap path"></nav>
      <div id="treemap" class="treemap"></div>
      <div id="treemap-note" class="note"></div>
    </div>
  </section>
</main>
</body>
</html>
`;
