/** The style sheet of `osless explore --web` (served at /app.css). Marker colours follow dive's. */
export const PAGE_CSS = `:root {
  --bg: #fafafa;
  --panel: #ffffff;
  --fg: #1d2125;
  --muted: #6a737d;
  --line: #e1e4e8;
  --sel: #dbe9ff;
  --added: #1a7f37;
  --added-bg: #e6f6ea;
  --modified: #9a6700;
  --modified-bg: #fff5d6;
  --removed: #cf222e;
  --removed-bg: #ffebe9;
  --mono: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, monospace;
  font-family: system-ui, "DejaVu Sans", "Liberation Sans", sans-serif;
  font-size: 14px;
  color: var(--fg);
  background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; }
[hidden] { display: none !important; }
header#top { display: flex; align-items: baseline; gap: 1rem; padding: 0.6rem 1rem; background: #24292f; color: #fff; flex-wrap: wrap; }
header#top h1 { font-size: 1rem; margin: 0; font-weight: 600; }
.image-name { font-family: var(--mono); font-size: 1rem; }
.image-meta { color: #c9d1d9; font-family: var(--mono); font-size: 0.8rem; }
main { display: grid; grid-template-columns: minmax(380px, 40%) 1fr; gap: 0.8rem; padding: 0.8rem; align-items: start; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 0.6rem 0.8rem; margin-bottom: 0.8rem; min-width: 0; }
h2 { font-size: 0.9rem; margin: 0 0 0.4rem; text-transform: uppercase; letter-spacing: 0.04em; color: var(--muted); }
h3 { font-size: 0.85rem; margin: 0.6rem 0 0.3rem; }
.error { background: var(--removed-bg); color: var(--removed); border: 1px solid var(--removed); border-radius: 4px; padding: 0.4rem 0.6rem; margin: 0.4rem 0; white-space: pre-wrap; }
main > .error { margin: 0.8rem; }
.mode { display: flex; gap: 0.8rem; flex-wrap: wrap; margin-bottom: 0.4rem; font-size: 0.85rem; }
.mode .label { color: var(--muted); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.2rem 0.4rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 0.8rem; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.layers tbody tr { cursor: pointer; }
.layers tbody tr:hover { background: #f3f4f6; }
.layers tbody tr.in-range { background: #eef4ff; }
.layers tbody tr.selected { background: var(--sel); font-weight: 600; }
.layers td.cmd { font-family: var(--mono); font-size: 0.8rem; word-break: break-all; }
.changes { white-space: nowrap; font-family: var(--mono); font-size: 0.8rem; }
.c-added { color: var(--added); }
.c-modified { color: var(--modified); }
.c-removed { color: var(--removed); }
.details { display: grid; grid-template-columns: max-content 1fr; gap: 0.15rem 0.8rem; margin: 0; font-size: 0.85rem; }
.details dt { color: var(--muted); }
.details dd { margin: 0; font-family: var(--mono); word-break: break-all; }
.metric-box { border: 1px solid var(--line); border-radius: 4px; padding: 0.4rem 0.6rem; margin-bottom: 0.6rem; }
.metric-box h3 { margin-top: 0; }
.metric-box .sub { color: var(--muted); font-size: 0.8rem; margin: 0 0 0.3rem; }
.metric-box table { font-size: 0.8rem; margin-top: 0.3rem; }
.metric-box td.path { font-family: var(--mono); word-break: break-all; }
.big { font-size: 1.2rem; font-weight: 600; }
.toolbar { display: flex; justify-content: space-between; align-items: center; gap: 0.6rem; flex-wrap: wrap; margin-bottom: 0.4rem; }
.tabs { display: flex; gap: 0.2rem; }
.tab { border: 1px solid var(--line); background: #f6f8fa; padding: 0.3rem 0.8rem; border-radius: 4px; cursor: pointer; font: inherit; }
.tab[aria-selected="true"] { background: var(--sel); border-color: #9ec1ff; font-weight: 600; }
.search { display: flex; gap: 0.4rem; align-items: center; }
.search input[type="search"] { width: 22rem; max-width: 50vw; padding: 0.25rem 0.4rem; font-family: var(--mono); }
button { font: inherit; }
button.link { border: none; background: none; color: #0969da; cursor: pointer; padding: 0; }
.search-panel { border: 1px solid var(--line); border-radius: 4px; padding: 0.3rem 0.6rem; margin-bottom: 0.5rem; max-height: 14rem; overflow: auto; }
.search-head { display: flex; justify-content: space-between; color: var(--muted); font-size: 0.8rem; }
.results { margin: 0.2rem 0; padding-left: 1.6rem; font-family: var(--mono); font-size: 0.8rem; }
.results button { border: none; background: none; cursor: pointer; text-align: left; padding: 0; font-family: var(--mono); font-size: 0.8rem; color: #0969da; word-break: break-all; }
.results .meta { color: var(--muted); margin-left: 0.6rem; }
.view-title { font-weight: 600; margin: 0.2rem 0; }
.legend { font-size: 0.75rem; color: var(--muted); margin-bottom: 0.2rem; display: flex; gap: 0.8rem; }
.legend .m-added { color: var(--added); } .legend .m-modified { color: var(--modified); } .legend .m-removed { color: var(--removed); }
.tree { font-family: var(--mono); font-size: 0.8rem; max-height: calc(100vh - 14rem); min-height: 12rem; overflow: auto; border-top: 1px solid var(--line); }
.row { display: flex; align-items: center; gap: 0.5rem; padding: 0 0.3rem; line-height: 1.45rem; white-space: nowrap; }
.tree-head { font-family: var(--mono); font-size: 0.75rem; color: var(--muted); }
.tree .row { cursor: default; }
.tree .row:hover { background: #f3f4f6; }
.tree .row.selected { background: var(--sel); }
.tree .row:focus { outline: 1px dotted #0969da; outline-offset: -1px; }
.tree:focus-visible { outline: 2px solid #9ec1ff; }
.layers tbody tr:focus-visible { outline: 2px solid #9ec1ff; outline-offset: -2px; }
.row .toggle { display: inline-block; width: 1rem; text-align: center; cursor: pointer; color: var(--muted); flex: none; }
.row .marker { width: 1rem; font-weight: 700; flex: none; }
.row .perm { width: 6.5rem; flex: none; }
.row .owner { width: 5rem; flex: none; color: var(--muted); }
.row .size { width: 5.5rem; flex: none; text-align: right; font-variant-numeric: tabular-nums; }
.row .name { flex: 1 1 auto; overflow: hidden; text-overflow: ellipsis; }
.row .link-target { color: var(--muted); }
.row a.dl { flex: none; text-decoration: none; color: #0969da; padding: 0 0.3rem; }
.row.m-added { color: var(--added); }
.row.m-modified { color: var(--modified); }
.row.m-removed { color: var(--removed); }
.row.m-removed .name { text-decoration: line-through; }
.row.more { color: #0969da; cursor: pointer; }
.selection { font-family: var(--mono); font-size: 0.8rem; color: var(--muted); min-height: 1.2rem; padding-top: 0.3rem; border-top: 1px solid var(--line); word-break: break-all; }
.crumbs { font-family: var(--mono); font-size: 0.85rem; margin-bottom: 0.3rem; }
.crumbs button { border: none; background: none; color: #0969da; cursor: pointer; padding: 0; font-family: var(--mono); }
.treemap { position: relative; width: 100%; height: calc(100vh - 14rem); min-height: 320px; background: #eef0f2; overflow: hidden; border-radius: 4px; }
.tm { position: absolute; overflow: hidden; border: 1px solid #fff; font-size: 0.72rem; line-height: 1rem; color: #1d2125; }
.tm.tm-file { background: #b6d4fe; }
.tm.tm-dir { background: #d7dde5; cursor: zoom-in; }
.tm.tm-dir > .tm-label { font-weight: 600; }
.tm.tm-file.m-added { background: #a6e3b5; }
.tm.tm-file.m-modified { background: #f9dc8c; }
.tm.tm-rest { background: #e5e7ea; color: var(--muted); }
.tm.tm-file:hover, .tm.tm-dir:hover { outline: 2px solid #0969da; z-index: 1; }
.tm-label { padding: 0 0.2rem; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; pointer-events: none; }
.note { font-size: 0.75rem; color: var(--muted); margin-top: 0.3rem; }
`;
