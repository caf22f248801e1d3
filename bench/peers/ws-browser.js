// What `ws` means in the page's bundle: RxDB's replication-websocket client imports
// `{ WebSocket } from 'ws'`, which is the browser's own WebSocket here (the server half is unused).
export const WebSocket = globalThis.WebSocket;
export class WebSocketServer {
  constructor() {
    throw new Error('no WebSocketServer in the browser');
  }
}
export default WebSocket;
