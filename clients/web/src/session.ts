// The signed-in user and their tokens, kept in localStorage so every tab shares them.
//
// Access tokens live minutes: `accessToken()` refreshes one about to expire before a call,
// and `refresh(stale)` trades the refresh token for new ones when the server said the
// token it got has expired. Refresh tokens rotate and a spent one presented again revokes
// the whole session, so refreshing is single-flight within a tab and serialised across tabs
// (Web Locks); inside the lock the stored tokens are read again, and a tab that finds them
// already renewed by another uses those.
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { AuthService, AuthTokens } from "./gen/photomesh/auth/v1/auth_service_pb";

const KEY = "photomesh.session";
/** Refresh this long before the access token expires. */
const EARLY_MS = 30_000;

export interface SignedIn {
  userId: string;
  username: string;
  accessToken: string;
  accessExpireMs: number;
  refreshToken: string;
}

type Listener = (now: SignedIn | null, why?: string) => void;

export class Session {
  private inflight: Promise<string> | undefined;
  private readonly listeners = new Set<Listener>();

  constructor(private readonly auth: Client<typeof AuthService>) {
    window.addEventListener("storage", (event) => {
      if (event.key === KEY) this.emit(this.current());
    });
  }

  current(): SignedIn | null {
    const raw = localStorage.getItem(KEY);
    if (!raw) return null;
    try {
      return JSON.parse(raw) as SignedIn;
    } catch {
      return null;
    }
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  signIn(userId: string, username: string, tokens: AuthTokens | undefined): SignedIn {
    if (!tokens) throw new Error("the server sent no tokens");
    const now: SignedIn = { userId, username, ...fromTokens(tokens) };
    this.store(now);
    this.emit(now);
    return now;
  }

  /** Ends the session here and on the server (the refresh token is revoked). */
  async signOut(why?: string): Promise<void> {
    const was = this.current();
    localStorage.removeItem(KEY);
    this.emit(null, why);
    if (was) {
      try {
        await this.auth.logout({ refreshToken: was.refreshToken });
      } catch {
        // Signed out here either way; the refresh token expires on its own.
      }
    }
  }

  /** A usable access token: the stored one, or a fresh one if it is about to expire. */
  async accessToken(): Promise<string> {
    const now = this.current();
    if (!now) throw new ConnectError("not signed in", Code.Unauthenticated);
    if (now.accessExpireMs - Date.now() > EARLY_MS) return now.accessToken;
    return this.refresh(now.accessToken);
  }

  /** New tokens in place of `stale` (unless another call or tab renewed it already). */
  refresh(stale: string): Promise<string> {
    this.inflight ??= exclusive(() => this.renew(stale)).finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async renew(stale: string): Promise<string> {
    const now = this.current();
    if (!now) throw new ConnectError("not signed in", Code.Unauthenticated);
    if (now.accessToken !== stale && now.accessExpireMs - Date.now() > EARLY_MS) {
      return now.accessToken; // another tab (or call) refreshed meanwhile
    }
    try {
      const reply = await this.auth.refresh({ refreshToken: now.refreshToken });
      const renewed: SignedIn = { ...now, ...fromTokens(reply.tokens!) };
      this.store(renewed);
      this.emit(renewed);
      return renewed.accessToken;
    } catch (err) {
      const e = ConnectError.from(err);
      if (e.code === Code.Unauthenticated) {
        localStorage.removeItem(KEY);
        this.emit(null, "Your session has ended; log in again.");
      }
      throw err;
    }
  }

  private store(value: SignedIn): void {
    localStorage.setItem(KEY, JSON.stringify(value));
  }

  private emit(now: SignedIn | null, why?: string): void {
    for (const listener of this.listeners) listener(now, why);
  }
}

function fromTokens(tokens: AuthTokens): Pick<SignedIn, "accessToken" | "accessExpireMs" | "refreshToken"> {
  return {
    accessToken: tokens.accessToken,
    accessExpireMs: tokens.accessTokenExpireTime ? timestampMs(tokens.accessTokenExpireTime) : 0,
    refreshToken: tokens.refreshToken,
  };
}

/** `task` while holding the cross-tab refresh lock (where Web Locks exist). */
function exclusive<T>(task: () => Promise<T>): Promise<T> {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  return locks ? locks.request("photomesh-refresh", task) : task();
}
