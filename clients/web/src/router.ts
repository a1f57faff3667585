// Pages by hash route (`#/u/alice`): each page is a module exporting a `Page`; adding one
// (search, explore, messages once their contracts exist) is a module and a line in app.ts.
import type { Api } from "./api";
import type { Inbox } from "./inbox";
import type { SignedIn } from "./session";

/** What a page gets: the API, who is signed in, its route parameters, and a signal
 * aborted when the user leaves the page (streams and polls stop with it). */
export interface Ctx {
  api: Api;
  me: SignedIn;
  params: Record<string, string>;
  query: URLSearchParams;
  signal: AbortSignal;
  inbox: Inbox;
  go(path: string): void;
  flash(text: string, kind?: "error" | "info"): void;
  /** Shows a failed call as a readable message (google.rpc details). */
  fail(err: unknown): void;
}

export interface Page {
  /** "/u/:username": literal segments and named parameters. */
  path: string;
  title: string;
  /** Reachable signed out (log in, sign up); every other page needs a session. */
  public?: boolean;
  render(ctx: Ctx): Node | Promise<Node>;
}

export interface Match {
  page: Page;
  params: Record<string, string>;
  query: URLSearchParams;
}

/** The page for `hash` ("#/p/42?x=1"), or undefined. */
export function match(pages: Page[], hash: string): Match | undefined {
  const [path, search = ""] = (hash.replace(/^#/, "") || "/").split("?");
  const parts = path.split("/").filter(Boolean);
  for (const page of pages) {
    const pattern = page.path.split("/").filter(Boolean);
    if (pattern.length !== parts.length) continue;
    const params: Record<string, string> = {};
    const ok = pattern.every((segment, i) => {
      if (segment.startsWith(":")) {
        params[segment.slice(1)] = decodeURIComponent(parts[i]);
        return true;
      }
      return segment === parts[i];
    });
    if (ok) return { page, params, query: new URLSearchParams(search) };
  }
  return undefined;
}
