#!/usr/bin/env node
/**
 * The container commands alone (see `CONTAINER_COMMANDS` in program.ts): bundled on their own so that a
 * container starts without loading the rest of the CLI. `main.ts` registers the same commands.
 */
import { registerExportCommand } from "./commands/export.ts";
import { registerRunCommands } from "./commands/run.ts";
import { createProgram } from "./program.ts";

const { program, ctx, parse } = createProgram();
registerRunCommands(program, ctx);
registerExportCommand(program, ctx);
void parse();
