import fs from 'node:fs/promises';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives: a package under node_modules, node itself, or tenantql. */
function areaOf(url: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:') || url === '') return url === '' ? '(native/gc/idle)' : 'node core';
  return url.includes('/src/') ? `tenantql ${url.slice(url.indexOf('/src/') + 1)}` : url;
}

/**
 * Self time per code area and per function, from the .cpuprofile files Node wrote to dir,
 * leaving out the first skipMs of the process (start-up: compiling modules, building the schema).
 */
export async function summariseProfiles(
  dir: string,
  skipMs: number,
  top = 12,
): Promise<{
  byArea: [string, number][];
  byFunction: [string, number][];
}> {
  const area = new Map<string, number>();
  const fn = new Map<string, number>();
  let total = 0;
  for (const file of await fs.readdir(dir)) {
    if (!file.endsWith('.cpuprofile')) continue;
    const profile = JSON.parse(await fs.readFile(path.join(dir, file), 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    let elapsedMs = 0;
    profile.samples.forEach((id, i) => {
      const ms = (profile.timeDeltas[i] ?? 0) / 1000;
      elapsedMs += ms;
      const node = byId.get(id);
      if (!node || elapsedMs < skipMs) return;
      const { functionName, url, lineNumber } = node.callFrame;
      if (functionName === '(idle)' || functionName === '(program)') return;
      total += ms;
      const a = functionName === '(garbage collector)' ? '(garbage collector)' : areaOf(url);
      area.set(a, (area.get(a) ?? 0) + ms);
      const f = `${functionName || '(anonymous)'} ${areaOf(url)}:${lineNumber + 1}`;
      fn.set(f, (fn.get(f) ?? 0) + ms);
    });
  }
  const share = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]): [string, number] => [k, Number(((100 * v) / (total || 1)).toFixed(1))]);
  return { byArea: share(area), byFunction: share(fn) };
}
