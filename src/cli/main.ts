#!/usr/bin/env node
// Entry point of the `animus` command: runs the CLI on the process's arguments and exits
// with the code it returns (see exit-codes.ts). Everything else lives in program.ts.
import { runCli } from './program.js';

const code = await runCli(process.argv.slice(2));
// Let stdout drain before leaving; open handles (pools, servers) are closed by the commands.
process.exitCode = code;
setImmediate(() => process.exit(code));
