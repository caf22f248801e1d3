// The browser's own WebSocket behind webSocketConnector: one attempt at a time, driven by
// transport-timeout.spec.ts; each outcome is 'open' or '<code>:<details.reason>'.
import { webSocketConnector } from '@cse/sync';

let controller: AbortController | undefined;
let attempt: Promise<string> | undefined;

const api = {
  start(url: string, timeoutMs: number): void {
    controller = new AbortController();
    attempt = webSocketConnector(url, { timeoutMs })({ signal: controller.signal }).then(
      (t) => {
        t.close();
        return 'open';
      },
      (e: { code?: string; details?: { reason?: unknown } }) => `${String(e.code)}:${String(e.details?.reason)}`,
    );
  },
  abort(): void {
    controller?.abort();
  },
  outcome(): Promise<string> | undefined {
    return attempt;
  },
};
(window as unknown as { cseConnect: typeof api }).cseConnect = api;
