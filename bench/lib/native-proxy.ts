/**
 * A native proxy as a yardstick for the daemon's /proxy: nginx (Debian's nginx-light) with
 * one worker and no master process, so one process does all its work, as the daemon's one
 * thread does. It forwards to the upstream on keep-alive connections and sets a fixed
 * Authorization, like the bare node:http proxy. It runs only where nginx is installed; the
 * scenario says so when it is not.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BearerServer } from './bearer-server.js';

/** The nginx binary on this machine, if any: PATH first, then where Debian puts it. */
export function findNginx(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = [...(env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/sbin', '/usr/local/sbin'];
  return dirs.map((dir) => join(dir, 'nginx')).find((path) => existsSync(path));
}

/** nginx in front of `upstream` (http://127.0.0.1:PORT), its files in `dir`. */
export async function startNginxProxy(
  nginx: string,
  upstream: string,
  authorization: string,
  dir: string,
): Promise<BearerServer> {
  const port = await freePort();
  const config = join(dir, 'nginx.conf');
  writeFileSync(config, nginxConfig(new URL(upstream).host, port, authorization, dir), { mode: 0o600 });
  // -e: errors to stderr from the start, not to the packaged log path a non-root user cannot write.
  const child = spawn(nginx, ['-e', 'stderr', '-p', dir, '-c', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-2000);
  });
  try {
    await listening(port, child, () => stderr);
  } catch (error) {
    await stop(child);
    throw error;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    cpuMs: async () => linuxCpuMs(child.pid as number),
    stop: () => stop(child),
  };
}

function nginxConfig(upstreamHost: string, port: number, authorization: string, dir: string): string {
  return `
worker_processes 1;
master_process off;
daemon off;
pid ${dir}/nginx.pid;
error_log stderr error;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream api { server ${upstreamHost}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://api;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "${authorization}";
      proxy_buffering off;
    }
  }
}
`;
}

/** A port nothing listens on now (nginx cannot be asked to pick one and say which). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

async function listening(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${stderr()}`);
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (accepted) return;
    await sleep(50);
  }
  throw new Error(`nginx did not listen on ${port} within 5 s: ${stderr()}`);
}

/** User and system CPU of a process, in ms, from /proc (the kernel counts in clock ticks of 10 ms). */
function linuxCpuMs(pid: number): number {
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const ticks = Number(fields[11]) + Number(fields[12]);
  if (!Number.isFinite(ticks)) throw new Error(`Cannot read the CPU time of process ${pid}`);
  return ticks * 10;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGQUIT'); // nginx's graceful stop
  const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(killer);
}
