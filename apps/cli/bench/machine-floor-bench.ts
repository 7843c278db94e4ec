import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { BenchRow } from './propagation-bench.js';
import { cpuMs } from './process-cpu.js';

/**
 * The machine's floor under the propagation rows: what one small message between
 * two Node processes on loopback costs in CPU here, with no product code at all.
 * A server process echoes; each client process sends 100 B at a steady rate on
 * its own socket and reads the echo, as a store does with its POS requests and
 * its hub frames. An exchange crosses the loopback twice; a sale crosses it five
 * times (POS request and response, the store's frame, the hub's ack, the relay
 * to a watcher), so 2.5 exchanges are what a sale costs here before any of its
 * work is done.
 */
const ECHO_SERVER = `
const net = require('node:net');
const server = net.createServer((socket) => { socket.setNoDelay(true); socket.on('data', (d) => socket.write(d)); });
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
`;

const ECHO_CLIENT = `
const net = require('node:net');
const [port, rate, seconds] = process.argv.slice(1).map(Number);
const socket = net.connect(port, '127.0.0.1');
socket.setNoDelay(true);
let echoed = 0;
socket.on('data', (d) => { echoed += d.length; });
socket.on('connect', () => {
  process.stdout.write('ready\\n');
  process.stdin.once('data', () => {
    const timer = setInterval(() => socket.write(Buffer.alloc(100)), 1000 / rate);
    setTimeout(() => {
      clearInterval(timer);
      setTimeout(() => { process.stdout.write(String(Math.floor(echoed / 100)) + '\\n'); socket.end(); }, 300);
    }, seconds * 1000);
  });
});
`;

/** Reads a child's stdout line by line: `next()` resolves with its next line. */
function lines(child: ChildProcess): { next: () => Promise<string> } {
  const ready: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    text += String(chunk);
    for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n')) {
      const line = text.slice(0, end);
      text = text.slice(end + 1);
      const waiter = waiting.shift();
      if (waiter === undefined) ready.push(line);
      else waiter(line);
    }
  });
  return {
    next: () => {
      const line = ready.shift();
      return line === undefined ? new Promise((resolve) => waiting.push(resolve)) : Promise.resolve(line);
    },
  };
}

export interface FloorLoad {
  readonly clients: number;
  readonly messagesPerSecond: number;
  readonly seconds: number;
}

/** CPU per echoed message, client and server side, at one load. */
export async function runMachineFloorBench(load: FloorLoad): Promise<BenchRow> {
  const { clients: CLIENTS, messagesPerSecond: RATE, seconds: SECONDS } = load;
  const server = spawn(process.execPath, ['-e', ECHO_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const children: ChildProcess[] = [server];
  try {
    const port = await lines(server).next();
    for (let i = 0; i < CLIENTS; i++) {
      children.push(
        spawn(process.execPath, ['-e', ECHO_CLIENT, port, String(RATE), String(SECONDS)], {
          stdio: ['pipe', 'pipe', 'inherit'],
        }),
      );
    }
    const clients = children.slice(1);
    const output = clients.map(lines);
    await Promise.all(output.map((out) => out.next()));
    const cpuOf = (): number[] => children.map((child) => cpuMs(child.pid));
    const before = cpuOf();
    const answers = output.map((out) => out.next());
    for (const client of clients) client.stdin?.write('go\n');
    const echoed = (await Promise.all(answers)).reduce((sum, line) => sum + Number(line), 0);
    const after = cpuOf();
    const spent = after.map((value, i) => value - (before[i] ?? 0));
    const serverMs = (spent[0] ?? NaN) / Math.max(1, echoed);
    const clientMs = spent.slice(1).reduce((sum, value) => sum + value, 0) / Math.max(1, echoed);
    const offered = CLIENTS * RATE * SECONDS;
    return {
      name: `machine floor: 100 B echo between Node processes (${CLIENTS} clients x ${RATE} messages/s, ${SECONDS} s)`,
      value: `${(serverMs + clientMs).toFixed(2)} ms of CPU per exchange`,
      note: `${echoed.toLocaleString('en-US')} of ${offered.toLocaleString('en-US')} echoed; clients ${clientMs.toFixed(2)} ms, server ${serverMs.toFixed(2)} ms; no product code; a sale makes 2.5 such exchanges`,
    };
  } finally {
    const running = children.filter((child) => child.exitCode === null && child.signalCode === null);
    for (const child of running) child.kill('SIGKILL');
    await Promise.all(running.map((child) => once(child, 'exit')));
  }
}
