// The photomesh web app: pages by hash route, a navigation bar with the unread badge, and
// a session whose tokens are refreshed as they expire. Everything goes over gRPC-Web to
// the edge (api.ts); photos go straight to object storage (components/upload.ts).
import { createApi, edgeUrl } from "./api";
import { h, replace } from "./dom";
import { message } from "./errors";
import { Inbox } from "./inbox";
import { composePage } from "./pages/compose";
import { homePage } from "./pages/home";
import { notificationsPage } from "./pages/notifications";
import { postPage } from "./pages/post";
import { profilePage } from "./pages/profile";
import { loginPage, signupPage } from "./pages/sign_in";
import { storyPage } from "./pages/story_viewer";
import { match, type Ctx, type Page } from "./router";
import type { SignedIn } from "./session";

/** Every page. Search, explore and messages join here once their contracts exist. */
const PAGES: Page[] = [
  homePage, loginPage, signupPage, composePage, postPage, profilePage, notificationsPage, storyPage,
];

const api = createApi(edgeUrl());
const outlet = document.getElementById("page")!;
const nav = document.getElementById("nav")!;
const flashBox = document.getElementById("flash")!;

let inbox = new Inbox(api);
let signedInScope: AbortController | undefined;
let pageScope: AbortController | undefined;

function go(path: string): void {
  const hash = `#${path}`;
  if (window.location.hash === hash) void render();
  else window.location.hash = hash;
}

function flash(text: string, kind: "error" | "info" = "error"): void {
  const note = h("div", { class: `flash ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
  flashBox.append(note);
  setTimeout(() => note.remove(), kind === "error" ? 8000 : 3000);
}

function renderNav(me: SignedIn | null): void {
  if (!me) {
    replace(nav, h("a", { href: "#/login" }, "Log in"), h("a", { href: "#/signup" }, "Sign up"));
    return;
  }
  const badge = h("span", { class: "badge", "aria-label": "unread notifications" });
  inbox.onUnread((n) => { badge.textContent = n > 0n ? String(n) : ""; });
  const who = h("input", { type: "text", placeholder: "@username", "aria-label": "Go to profile" });
  const jump = h("form", { role: "search" }, who);
  jump.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = who.value.trim().replace(/^@/, "").toLowerCase();
    if (name) go(`/u/${encodeURIComponent(name)}`);
    who.value = "";
  });
  replace(nav, jump,
    h("a", { href: "#/" }, "Home"),
    h("a", { href: "#/new" }, "New post"),
    h("a", { href: "#/notifications", class: "notifications-link" }, "Notifications", badge),
    h("a", { href: `#/u/${me.username}` }, "Profile"),
    h("button", { on: { click: () => void api.session.signOut() } }, "Log out"));
}

/** Per sign-in: the badge and the notification stream; stopped on sign-out. */
function startSession(me: SignedIn | null): void {
  signedInScope?.abort();
  signedInScope = undefined;
  inbox = new Inbox(api);
  if (me) {
    signedInScope = new AbortController();
    void inbox.run(signedInScope.signal);
  }
  renderNav(me);
}

async function render(): Promise<void> {
  pageScope?.abort();
  const scope = new AbortController();
  pageScope = scope;
  const me = api.session.current();
  const found = match(PAGES, window.location.hash);
  if (!found) {
    replace(outlet, h("p", null, "There is no such page. ", h("a", { href: "#/" }, "Go home")));
    return;
  }
  if (!found.page.public && !me) {
    go(`/login?next=${encodeURIComponent(window.location.hash.slice(1) || "/")}`);
    return;
  }
  document.title = `${found.page.title} · photomesh`;
  const ctx: Ctx = {
    api, me: me!, params: found.params, query: found.query, signal: scope.signal, inbox,
    go, flash, fail: (err) => { if (!scope.signal.aborted) flash(message(err)); },
  };
  outlet.setAttribute("aria-busy", "true");
  try {
    const content = await found.page.render(ctx);
    if (!scope.signal.aborted) replace(outlet, content);
  } catch (err) {
    if (!scope.signal.aborted) replace(outlet, h("p", { class: "error-text", role: "alert" }, message(err)));
  } finally {
    if (!scope.signal.aborted) outlet.removeAttribute("aria-busy");
  }
}

let signedInAs = api.session.current()?.userId;
api.session.onChange((now, why) => {
  if (now?.userId === signedInAs) return; // a refresh: same user, new tokens
  signedInAs = now?.userId;
  startSession(now);
  if (!now) {
    if (why) flash(why);
    go("/login");
  }
});
window.addEventListener("hashchange", () => void render());
startSession(api.session.current());
void render();
