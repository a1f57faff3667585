// Drives the photomesh web app in Debian's chromium with playwright-core (no browser is
// downloaded): `node browser.mjs <config.json>`. The config names the scenario, the app's
// addresses, the files to upload and where screenshots go; one screenshot per step.
//
// Prints one JSON line per step ({"step", "ms"}) and a last line {"ok": true, "results"}
// (what the pytest side checks against the server) or {"ok": false, "error", "step"}.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const WAIT = { timeout: 30_000 };
let shot = 0;
let current = "start";
const pageErrors = [];
const say = (value) => process.stdout.write(JSON.stringify(value) + "\n");

async function step(name, pages, action) {
  current = name;
  const started = Date.now();
  const result = await action();
  shot += 1;
  for (const [who, page] of Object.entries(pages)) {
    await page.screenshot({ path: join(config.shots, `${String(shot).padStart(2, "0")}-${name}-${who}.png`) });
  }
  say({ step: name, ms: Date.now() - started });
  return result;
}

async function open(browser, url, options) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.on("pageerror", (err) => pageErrors.push(`${url}: ${err.message}`));
  await page.goto(url);
  return page;
}

async function signUp(page, username) {
  await page.goto(`${page.url().split("#")[0]}#/signup`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password (8 characters or more)").fill(config.password);
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.getByRole("button", { name: "Log out" }).waitFor(WAIT);
  await page.locator(".home").waitFor(WAIT);
}

async function logIn(page, username) {
  await page.goto(`${page.url().split("#")[0]}#/login`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(config.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.locator(".home").waitFor(WAIT);
}

const session = (page) => page.evaluate(() => JSON.parse(localStorage.getItem("photomesh.session")));

async function goHome(page) {
  await page.getByRole("link", { name: "Home" }).click();
  await page.locator(".home").waitFor(WAIT);
  await page.locator('[data-live="on"]').waitFor(WAIT);  // the live feed is subscribed
}

/** What a post's first image shows: the variant the browser picked, and the placeholder. */
async function imageOf(page, postId) {
  const img = page.locator(`article[data-post-id="${postId}"] .media img`).first();
  await page.locator(`article[data-post-id="${postId}"] .media img.loaded`).first().waitFor(WAIT);
  return img.evaluate((el) => ({
    currentSrc: el.currentSrc, naturalWidth: el.naturalWidth,
    placeholder: getComputedStyle(el.closest(".media")).backgroundImage.slice(0, 26),
  }));
}

async function twoUsers(browser) {
  // A on a phone-sized screen, on the app the edge serves; B on a large, dense screen, on
  // the app served from another origin (every call to the edge is cross-origin: CORS).
  const a = await open(browser, config.appA, { viewport: { width: 412, height: 915 }, deviceScaleFactor: 1 });
  const b = await open(browser, config.appB, { viewport: { width: 1280, height: 900 }, deviceScaleFactor: 2 });
  const results = {};

  await step("a-signed-up", { a }, () => signUp(a, config.userA));
  await step("b-signed-up", { b }, () => signUp(b, config.userB));
  await step("b-follows-a", { b }, async () => {
    await b.getByLabel("Go to profile").fill(config.userA);
    await b.getByLabel("Go to profile").press("Enter");
    await b.getByRole("heading", { name: config.userA }).waitFor(WAIT);
    await b.getByRole("button", { name: "Follow" }).click();
    await b.getByRole("button", { name: "Unfollow" }).waitFor(WAIT);
  });
  await step("a-new-follower-badge", { a }, async () => {
    await a.locator(".notifications-link .badge", { hasText: /^[1-9]/ }).waitFor(WAIT);
  });
  await step("b-home-live", { b }, () => goHome(b));

  results.postId = await step("a-posted-photo", { a }, async () => {
    await a.getByRole("link", { name: "New post" }).click();
    await a.getByLabel("Photos or a video").setInputFiles(config.image);
    await a.getByLabel(/^Caption/).fill(`First light at the lake #photomesh #sunrise with @${config.userB}`);
    await a.getByRole("button", { name: "Share" }).click();
    await a.waitForURL(/#\/p\/\d+$/, WAIT);
    return a.url().split("/p/")[1];
  });
  results.imageA = await imageOf(a, results.postId);
  await step("a-watches-notifications", { a }, async () => {
    await a.getByRole("link", { name: /^Notifications/ }).click();
    await a.locator('li[data-type="NEW_FOLLOWER"]').waitFor(WAIT);
  });

  await step("b-sees-post-live", { b }, async () => {
    await b.locator(`article.post.fresh[data-post-id="${results.postId}"]`).waitFor(WAIT);
  });
  results.imageB = await imageOf(b, results.postId);
  const card = b.locator(`article[data-post-id="${results.postId}"]`);
  await step("b-liked", { b }, async () => {
    await card.getByRole("button", { name: /Like/ }).click();
    await card.locator('button.like[aria-pressed="true"]').waitFor(WAIT);
    await card.locator(".like-count", { hasText: "1 like" }).waitFor(WAIT);
  });
  await step("b-commented", { b }, async () => {
    await card.getByLabel("Add a comment").fill("Gorgeous colours!");
    await card.getByRole("button", { name: "Post" }).click();
    await card.locator(".comments li", { hasText: "Gorgeous colours!" }).waitFor(WAIT);
  });
  await step("a-notifications-arrived", { a }, async () => {
    await a.locator('li[data-type="POST_LIKED"]').waitFor(WAIT);
    await a.locator('li[data-type="COMMENT_ADDED"]').waitFor(WAIT);
    // Read while open: the badge is back to nothing.
    await a.locator(".notifications-link .badge:empty").waitFor({ state: "attached", ...WAIT });
  });
  await step("b-mentioned-badge", { b }, async () => {
    await b.locator(".notifications-link .badge", { hasText: /^[1-9]/ }).waitFor(WAIT);
  });

  results.storyId = await step("a-posted-story", { a }, async () => {
    await a.goto(`${config.appA}#/new?story=1`);
    await a.getByLabel(/^Photo or video/).setInputFiles(config.storyImage);
    await a.getByLabel("Text", { exact: true }).fill("Behind the scenes");
    await a.getByRole("button", { name: "Add to your story" }).click();
    await a.locator(".story[data-story-id]").waitFor(WAIT);
    await a.getByRole("button", { name: "Seen by 0" }).waitFor(WAIT);
    return a.locator(".story").getAttribute("data-story-id");
  });
  results.trayReloads = await step("b-tray-unseen", { b }, async () => {
    // Pulled to refresh until the story is in the tray (it is there at once unless the
    // story service's caches lag: the number of pulls is reported).
    for (let pulls = 1; ; pulls++) {
      await b.reload();
      await b.locator(".tray a.story-link, .tray a.add-story").first().waitFor(WAIT);
      if (await b.locator(".tray a.unseen[data-author-id]").count()) return pulls;
      if (pulls === 15) throw new Error("the story never reached the tray");
      await b.waitForTimeout(2000);
    }
  });
  await step("b-viewed-story", { b }, async () => {
    await b.locator(".tray a.unseen").first().click();
    await b.locator(`.story[data-story-id="${results.storyId}"][data-seen="true"]`).waitFor(WAIT);
    await b.locator(".story .story-text", { hasText: "Behind the scenes" }).waitFor(WAIT);
  });
  await step("b-tray-seen", { b }, async () => {
    await b.goto(`${config.appB}#/`);
    await b.locator(".tray a.story-link").first().waitFor(WAIT);
    results.unseenAfterViewing = await b.locator(".tray a.unseen").count();
  });
  await step("a-story-viewers", { a }, async () => {
    await a.reload();
    await a.getByRole("button", { name: "Seen by 1" }).click();
    await a.locator("ul.viewers li", { hasText: config.userB }).waitFor(WAIT);
  });
  results.sessionA = await session(a);
  results.sessionB = await session(b);
  return results;
}

async function expiredToken(browser) {
  const page = await open(browser, config.appA, { viewport: { width: 800, height: 900 } });
  const refreshes = [];
  page.on("request", (r) => { if (r.url().endsWith("/photomesh.auth.v1.AuthService/Refresh")) refreshes.push(Date.now()); });
  const results = {};
  await step("c-logged-in", { c: page }, () => logIn(page, config.userC));
  const before = await session(page);
  await step("c-token-expired-refreshed", { c: page }, async () => {
    // The server now sees an expired token while the app believes it is good for minutes:
    // every call of the reloaded page is refused, and the app must refresh once and go on.
    await page.evaluate((expired) => {
      const s = JSON.parse(localStorage.getItem("photomesh.session"));
      localStorage.setItem("photomesh.session", JSON.stringify({ ...s, accessToken: expired }));
    }, config.expiredToken);
    await page.reload();
    await page.locator(".home").waitFor(WAIT);
    await page.locator('[data-live="on"]').waitFor(WAIT);
  });
  results.refreshesAfterExpiry = refreshes.length;
  await step("c-carries-on", { c: page }, async () => {
    await page.getByRole("link", { name: "Profile" }).click();
    await page.getByLabel("Bio").fill("still signed in");
    await page.getByRole("button", { name: "Save profile" }).click();
    await page.getByText("Profile saved.").waitFor(WAIT);
  });
  await step("c-refreshed-before-expiry", { c: page }, async () => {
    // The app knows when its token expires and refreshes shortly before.
    await page.evaluate(() => {
      const s = JSON.parse(localStorage.getItem("photomesh.session"));
      localStorage.setItem("photomesh.session", JSON.stringify({ ...s, accessExpireMs: Date.now() + 5000 }));
    });
    await page.getByRole("link", { name: "Home" }).click();
    await page.locator(".home").waitFor(WAIT);
  });
  results.refreshesTotal = refreshes.length;
  results.before = before;
  results.after = await session(page);
  results.alerts = await page.locator('[role="alert"]').allTextContents();
  return results;
}

async function readableErrors(browser) {
  // What a person reads when a call fails: the google.rpc details, not a status code.
  const page = await open(browser, config.appA, { viewport: { width: 800, height: 900 } });
  const alert = async () => {
    const last = page.locator('#flash [role="alert"]').last();
    await last.waitFor(WAIT);
    const text = await last.textContent();
    await page.evaluate(() => document.getElementById("flash").replaceChildren());
    return text;
  };
  const results = {};
  await page.goto(`${config.appA}#/signup`);
  results.taken = await step("username-taken", { c: page }, async () => {
    await page.getByLabel("Username").fill(config.userC);
    await page.getByLabel("Password (8 characters or more)").fill(config.password);
    await page.getByRole("button", { name: "Sign up" }).click();
    return alert();
  });
  results.weak = await step("password-too-short", { c: page }, async () => {
    await page.getByLabel("Username").fill(config.newUser);
    await page.getByLabel("Password (8 characters or more)").fill("short");
    await page.getByRole("button", { name: "Sign up" }).click();
    return alert();
  });
  results.wrong = await step("wrong-password", { c: page }, async () => {
    await page.goto(`${config.appA}#/login`);
    await page.getByLabel("Username").fill(config.userC);
    await page.getByLabel("Password").fill("not the password");
    await page.getByRole("button", { name: "Log in" }).click();
    return alert();
  });
  return results;
}

const SCENARIOS = { two_users: twoUsers, expired_token: expiredToken, readable_errors: readableErrors };
const browser = await chromium.launch({ executablePath: config.chromium, headless: true, args: FLAGS });
try {
  const results = await SCENARIOS[config.scenario](browser);
  say({ ok: true, results, pageErrors });
} catch (err) {
  const pages = browser.contexts().flatMap((context) => context.pages());
  for (const [i, page] of pages.entries()) {
    await page.screenshot({ path: join(config.shots, `failed-${current}-${i + 1}.png`) }).catch(() => {});
  }
  say({ ok: false, step: current, error: String(err?.stack ?? err), pageErrors });
  process.exitCode = 1;
} finally {
  await browser.close();
  writeFileSync(join(config.shots, "done"), current);
}
