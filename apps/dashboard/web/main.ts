/**
 * The dashboard page: a fleet overview of the Edges this browser follows (`fleet.ts`) and, below
 * it, the Edge being looked at (`edge-page.ts`: its view, fed by the sync worker). Each Edge
 * has its own replica (IndexedDB database) and its own sync session, all off this thread in one
 * sync worker: a SharedWorker where the browser has one (all tabs share one sync per Edge), else a
 * dedicated worker per tab in which, per Edge, the Web Locks leader syncs.
 */
import type { LinkConfig } from '../shared/link-config.js';
import type { DashboardState } from './edge-page.js';
import { EdgePage } from './edge-page.js';
import type { FleetEdge } from './fleet.js';
import { FleetView, codeEdgeId } from './fleet.js';
import './style.css';

export type { DashboardState } from './edge-page.js';

const CONFIG_KEY = 'cse-dashboard-config';
/** The Edges added on this page with a code ("Add an Edge"), by id. */
const ADDED_KEY = 'cse-dashboard-added-edges';
const SELECTED_KEY = 'cse-dashboard-selected-edge';

async function loadConfig(): Promise<LinkConfig> {
  try {
    const res = await fetch('/config.json', { cache: 'no-store' });
    const config = (await res.json()) as LinkConfig | null;
    if (config !== null) {
      localStorage.setItem(CONFIG_KEY, JSON.stringify(config));
      return config;
    }
  } catch {
    // the server is unreachable: use what the last visit saw
  }
  const saved = localStorage.getItem(CONFIG_KEY);
  if (saved === null) throw new Error('the dashboard server does not know the Edge yet: reload in a moment');
  return JSON.parse(saved) as LinkConfig;
}

function added(): string[] {
  try {
    const v = JSON.parse(localStorage.getItem(ADDED_KEY) ?? '[]') as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** Another Edge through the same relay. */
const edgeConfig = (config: LinkConfig, edgeId: string): LinkConfig => ({ mode: config.mode, edgeUrl: config.edgeUrl, relayUrl: config.relayUrl, edgeId });

/** An Edge as `window.cseFleet` shows it (tests and the bench read it). */
type FleetLine = FleetEdge & { selected: boolean; flaps: number; flapLog: DashboardState['flapLog'] };

interface Globals {
  cseDashboard: DashboardState;
  cseFleet: { edges: FleetLine[] };
}

/**
 * Lets the browser run what waits (input, a frame) before the next part of the start: the page is
 * built in several short tasks, not one long one.
 */
const nextTask = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

async function main(): Promise<void> {
  const root = document.getElementById('app') as HTMLElement;
  const config = await loadConfig();
  root.textContent = '';
  const views = document.createElement('div');
  const pages = new Map<string, EdgePage>();
  let selected: EdgePage | undefined;
  const g = window as unknown as Globals;

  const lines = (): FleetLine[] =>
    [...pages.values()].map((p, i) => ({ edgeId: p.edgeId, name: `Edge ${i + 1}`, status: p.state.status, role: p.state.role, counts: p.counts, selected: p === selected, flaps: p.state.flaps, flapLog: p.state.flapLog }));
  const fleet = new FleetView({
    select: (edgeId) => select(edgeId),
    add: async (code) => {
      const edgeId = codeEdgeId(code);
      if (edgeId === undefined) throw new Error('not a pairing code (it starts with cse1.)');
      const known = pages.get(edgeId);
      if (known !== undefined) {
        if (known.state.role === 'unpaired') await known.pair(code.trim());
        select(edgeId);
        return;
      }
      const page = open(edgeConfig(config, edgeId), code.trim());
      try {
        await page.whenPaired();
      } catch (e) {
        pages.delete(edgeId);
        page.root.remove();
        fleet.update();
        throw e;
      }
      localStorage.setItem(ADDED_KEY, JSON.stringify([...new Set([...added(), edgeId])]));
      select(edgeId);
    },
  });
  fleet.source(lines);
  root.append(fleet.element, views);
  await nextTask();
  Object.defineProperty(g, 'cseFleet', { configurable: true, get: () => ({ edges: lines() }) });

  const open = (cfg: LinkConfig, code: string | undefined): EdgePage => {
    const el = document.createElement('div');
    el.className = 'edge-view';
    views.append(el);
    const page = new EdgePage(cfg, el);
    el.dataset.edge = page.edgeId;
    pages.set(page.edgeId, page);
    page.onChange = () => fleet.update();
    page.init(code);
    fleet.update();
    return page;
  };
  const select = (edgeId: string): void => {
    const page = pages.get(edgeId);
    if (page === undefined) return;
    selected?.show(false);
    selected = page;
    g.cseDashboard = page.state;
    localStorage.setItem(SELECTED_KEY, edgeId);
    fleet.select(edgeId);
    page.show(true);
  };

  const code = new URLSearchParams(location.hash.slice(1)).get('pair') ?? undefined;
  // A code is used once: keep it out of the address bar (and out of a reload).
  if (code !== undefined) history.replaceState(null, '', location.pathname + location.search);
  const codeFor = code === undefined ? undefined : codeEdgeId(code);
  const configs: LinkConfig[] = [...(config.edges ?? [config])];
  for (const id of added()) if (!configs.some((c) => c.edgeId === id)) configs.push(edgeConfig(config, id));
  // A link with a code for an Edge not listed yet adds it (the other Edges' links `npm start --edges n` prints).
  if (codeFor !== undefined && !configs.some((c) => c.edgeId === codeFor)) {
    configs.push(edgeConfig(config, codeFor));
    localStorage.setItem(ADDED_KEY, JSON.stringify([...new Set([...added(), codeFor])]));
  }
  for (const c of configs) {
    open(c, codeFor === undefined ? (c === configs[0] ? code : undefined) : c.edgeId === codeFor ? code : undefined);
    await nextTask();
  }
  const remembered = localStorage.getItem(SELECTED_KEY);
  select(codeFor !== undefined && pages.has(codeFor) ? codeFor : remembered !== null && pages.has(remembered) ? remembered : (configs[0]?.edgeId ?? ''));

  // A pairing link opened in this tab (only the address's #pair= changed, so no reload): add its Edge.
  window.addEventListener('hashchange', () => {
    const next = new URLSearchParams(location.hash.slice(1)).get('pair');
    if (next === null) return;
    history.replaceState(null, '', location.pathname + location.search);
    fleet.add(next);
  });

  let ticks = 0;
  setInterval(() => selected?.tick(++ticks % 5 === 0), 1000);
}

main().catch((e: unknown) => {
  const message = e instanceof Error ? e.message : String(e);
  (window as unknown as { cseDashboard?: { error?: string } }).cseDashboard ??= {};
  ((window as unknown as { cseDashboard: { error?: string } }).cseDashboard).error = message;
  const el = document.getElementById('app');
  if (el) el.insertAdjacentHTML('afterbegin', `<p class="error panel">The dashboard could not start: ${message.replace(/</g, '&lt;')}</p>`);
});
