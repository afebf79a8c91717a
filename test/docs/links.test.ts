import GithubSlugger from 'github-slugger';
import MarkdownIt from 'markdown-it';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/project-root.js';

// Parsed, not matched with a regular expression: links inside code blocks and code spans are
// text, and headings are turned into anchors exactly as GitHub does (github-slugger).
const markdown = new MarkdownIt({ html: true });

interface Parsed {
  /** Link and image targets, in order. */
  targets: string[];
  /** The anchors of the file's headings. */
  anchors: Set<string>;
}

function parse(text: string): Parsed {
  const slugger = new GithubSlugger();
  const targets: string[] = [];
  const anchors = new Set<string>();
  const tokens = markdown.parse(text, {});
  for (const [i, token] of tokens.entries()) {
    if (token.type === 'heading_open') {
      const inline = tokens[i + 1]?.children ?? [];
      const title = inline
        .filter((t) => t.type === 'text' || t.type === 'code_inline')
        .map((t) => t.content)
        .join('');
      anchors.add(slugger.slug(title));
    }
    for (const child of token.children ?? []) {
      const target =
        child.type === 'link_open'
          ? child.attrGet('href')
          : child.type === 'image'
            ? child.attrGet('src')
            : null;
      if (target !== null) targets.push(String(target));
    }
  }
  return { targets, anchors };
}

/**
 * The relative links of `files` (path relative to the project → Markdown) that lead nowhere: a
 * file or directory that does not exist, or an #anchor that no heading of the target has.
 * Links with a scheme (https:, mailto:) are not followed: the test needs no network.
 */
async function brokenLinks(
  files: Map<string, string>,
  exists: (file: string) => Promise<boolean>,
): Promise<string[]> {
  const parsed = new Map([...files].map(([file, text]) => [file, parse(text)]));
  const broken: string[] = [];
  for (const [file, { targets }] of parsed) {
    for (const target of targets) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
      const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
      const resolved = pathPart
        ? path.posix
            .normalize(path.posix.join(path.posix.dirname(file), decodeURI(pathPart)))
            .replace(/\/$/, '')
        : file;
      if (pathPart && !(parsed.has(resolved) || (await exists(resolved)))) {
        broken.push(`${file}: ${target} (no such file)`);
        continue;
      }
      if (anchor === undefined) continue;
      const anchors = parsed.get(resolved)?.anchors;
      if (!anchors) {
        broken.push(`${file}: ${target} (an anchor into a file that is not checked)`);
      } else if (!anchors.has(anchor)) {
        broken.push(`${file}: ${target} (no heading with that anchor)`);
      }
    }
  }
  return broken;
}

async function inProject(file: string): Promise<boolean> {
  return fs
    .stat(path.join(PROJECT_ROOT, file))
    .then(() => true)
    .catch(() => false);
}

describe('documentation links', () => {
  it('every relative link and #anchor in README.md and docs/*.md resolves', async () => {
    const docs = (await fs.readdir(path.join(PROJECT_ROOT, 'docs')))
      .filter((name) => name.endsWith('.md'))
      .map((name) => `docs/${name}`);
    const files = new Map<string, string>();
    for (const file of ['README.md', ...docs]) {
      files.set(file, await fs.readFile(path.join(PROJECT_ROOT, file), 'utf8'));
    }
    expect(docs.length).toBeGreaterThan(0);
    expect(await brokenLinks(files, inProject)).toEqual([]);
  });

  it('finds a missing file, a missing anchor, and a link into the same file', async () => {
    const files = new Map([
      [
        'README.md',
        [
          '# Title',
          '## Quick `start` (now)',
          '[ok](#quick-start-now) [ok](docs/a.md#the-a-part) [ok](sql/) [ok](https://example.com/x)',
          '[gone](docs/missing.md) [bad](#nowhere) [bad](docs/a.md#nowhere) [off](sql/x.sql#top)',
          '`[code](is-not-a-link.md)`',
          '```',
          '[fenced](is-not-a-link.md)',
          '```',
        ].join('\n\n'),
      ],
      ['docs/a.md', '# A\n\n## The A part\n\n[up](../README.md#title) [up](../nothing.md)'],
    ]);
    const exists = (file: string) => Promise.resolve(file === 'sql' || file === 'sql/x.sql');
    expect(await brokenLinks(files, exists)).toEqual([
      'README.md: docs/missing.md (no such file)',
      'README.md: #nowhere (no heading with that anchor)',
      'README.md: docs/a.md#nowhere (no heading with that anchor)',
      'README.md: sql/x.sql#top (an anchor into a file that is not checked)',
      'docs/a.md: ../nothing.md (no such file)',
    ]);
  });
});
