// The row of followed authors with live stories (own first), ringed while unseen.
import { h } from "../dom";
import { avatar } from "../media";
import type { Ctx } from "../router";

export async function storyTray(ctx: Ctx): Promise<HTMLElement> {
  const tray = h("nav", { class: "tray", "aria-label": "stories" });
  const reply = await ctx.api.story.getStoryTray({ pageSize: 30 }, { signal: ctx.signal });
  const own = reply.entries.some((e) => e.author?.userId === ctx.me.userId);
  if (!own) {
    tray.append(h("a", { href: "#/new?story=1", class: "add-story" },
      h("span", { class: "ring" }, h("span", { class: "avatar" }, "+")), h("span", { class: "name" }, "Your story")));
  }
  for (const entry of reply.entries) {
    const mine = entry.author?.userId === ctx.me.userId;
    tray.append(h("a", { href: `#/stories/${entry.author?.userId}`, dataset: { authorId: entry.author?.userId ?? "" },
      class: entry.hasUnseen ? "story-link unseen" : "story-link" },
      h("span", { class: entry.hasUnseen ? "ring unseen" : "ring" }, avatar(entry.author)),
      h("span", { class: "name" }, mine ? "Your story" : entry.author?.username ?? "")));
  }
  return tray;
}
