/**
 * The terminal UI of `osless explore` (level 7): `runTui` drives a terminal; `ExplorerView` is the view-model it
 * draws (keys in, screen lines out), usable without a terminal.
 */
export { parseKeys } from "./keys.ts";
export { runTui, type TuiIo } from "./terminal.ts";
export { ExplorerView, KEY_HELP, type KeyResult, type Pane, type ViewOptions } from "./view.ts";
