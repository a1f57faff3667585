// Server streams kept open: reopened after a network drop or a server restart (with
// backoff), and with a refreshed token when the server says the old one expired.
import { Code, ConnectError } from "@connectrpc/connect";
import { sleep } from "./dom";
import type { Session } from "./session";

/** Call options for `open`: the abort signal, and `onHeader`, called when the server's
 * response headers arrive (a photomesh stream sends them once it is subscribed). */
export interface StreamOptions {
  signal: AbortSignal;
  onHeader: () => void;
}

/** Follows `open(options)` until `signal` aborts; `onMessage` gets each message and
 * `onState` whether the stream is connected. */
export async function follow<T>(
  session: Session,
  open: (options: StreamOptions) => AsyncIterable<T>,
  onMessage: (message: T) => void,
  signal: AbortSignal,
  onState: (connected: boolean) => void = () => {},
): Promise<void> {
  let backoff = 500;
  while (!signal.aborted) {
    const used = session.current()?.accessToken;
    if (!used) return;
    try {
      const opened = () => { onState(true); backoff = 500; };
      for await (const message of open({ signal, onHeader: opened })) {
        opened();
        onMessage(message);
      }
    } catch (err) {
      if (signal.aborted) return;
      const e = ConnectError.from(err);
      if (e.code === Code.Unauthenticated) {
        try {
          await session.refresh(used);
          continue;
        } catch {
          return; // signed out: the session listeners take it from here
        }
      }
    }
    onState(false);
    await sleep(backoff, signal);
    backoff = Math.min(backoff * 2, 30_000);
  }
}
