import { runPropagationBench } from '../apps/cli/bench/propagation-bench.js';
const row = await runPropagationBench({ stores: 20, salesPerSecond: 5, seconds: 10 });
console.log(`20x5 ${process.env.SHELFSYNC_ESCROW ?? 'on'}: ${row.value} | ${row.note}`);
