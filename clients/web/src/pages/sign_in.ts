// Log in and sign up. Both end with tokens in the session and the home feed.
import { Code, ConnectError } from "@connectrpc/connect";
import { h, uuid } from "../dom";
import type { Ctx, Page } from "../router";

/** A request the server answered (even with an error) is done: the next submit is a new
 * one. Only a request that may not have arrived is retried under the same id. */
function answered(err: unknown): boolean {
  const code = ConnectError.from(err).code;
  return code !== Code.Unavailable && code !== Code.Unknown && code !== Code.DeadlineExceeded;
}

function field(label: string, input: HTMLInputElement): HTMLElement[] {
  const id = `f-${input.name}`;
  input.id = id;
  return [h("label", { for: id }, label), input];
}

export const loginPage: Page = {
  path: "/login",
  title: "Log in",
  public: true,
  render(ctx: Ctx) {
    const username = h("input", { type: "text", name: "username", autocomplete: "username", required: true });
    const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
    const submit = h("button", { type: "submit", class: "primary" }, "Log in");
    const form = h("form", { class: "stack card pad", "aria-label": "log in" },
      h("h1", null, "Log in"), ...field("Username", username), ...field("Password", password), submit,
      h("p", { class: "muted" }, "New here? ", h("a", { href: "#/signup" }, "Sign up")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      submit.disabled = true;
      try {
        const reply = await ctx.api.auth.login({ username: username.value.trim(), password: password.value });
        ctx.api.session.signIn(reply.userId, username.value.trim().toLowerCase(), reply.tokens);
        ctx.go(ctx.query.get("next") ?? "/");
      } catch (err) {
        ctx.fail(err);
      } finally {
        submit.disabled = false;
      }
    });
    return form;
  },
};

export const signupPage: Page = {
  path: "/signup",
  title: "Sign up",
  public: true,
  render(ctx: Ctx) {
    const username = h("input", { type: "text", name: "username", autocomplete: "username", required: true,
      pattern: "[A-Za-z0-9._]{3,30}", title: "3 to 30 letters, digits, dots or underscores" });
    const displayName = h("input", { type: "text", name: "display_name", autocomplete: "name", maxlength: "64" });
    const password = h("input", { type: "password", name: "password", autocomplete: "new-password", required: true });
    const submit = h("button", { type: "submit", class: "primary" }, "Sign up");
    // A retried submit returns the same account rather than failing with USERNAME_TAKEN.
    let requestId = uuid();
    const form = h("form", { class: "stack card pad", "aria-label": "sign up" },
      h("h1", null, "Sign up"), ...field("Username", username), ...field("Name (optional)", displayName),
      ...field("Password (8 characters or more)", password), submit,
      h("p", { class: "muted" }, "Have an account? ", h("a", { href: "#/login" }, "Log in")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      submit.disabled = true;
      try {
        const reply = await ctx.api.auth.register({
          requestId, username: username.value.trim(), password: password.value, displayName: displayName.value.trim(),
        });
        ctx.api.session.signIn(reply.userId, username.value.trim().toLowerCase(), reply.tokens);
        ctx.go("/");
      } catch (err) {
        if (answered(err)) requestId = uuid();
        ctx.fail(err);
      } finally {
        submit.disabled = false;
      }
    });
    return form;
  },
};
