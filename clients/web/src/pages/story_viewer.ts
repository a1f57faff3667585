// One author's live stories (#/stories/<user id>), oldest first: each one shown is marked
// seen; on your own, who has seen it.
import { ago, h, replace } from "../dom";
import { avatar, mediaView } from "../media";
import type { Story } from "../gen/photomesh/story/v1/story_service_pb";
import type { Ctx, Page } from "../router";

export const storyPage: Page = {
  path: "/stories/:userId",
  title: "Stories",
  async render(ctx: Ctx) {
    const tray = await ctx.api.story.getStoryTray({ pageSize: 100 }, { signal: ctx.signal });
    const entry = tray.entries.find((e) => e.author?.userId === ctx.params.userId);
    if (!entry || entry.stories.length === 0) {
      return h("div", { class: "card pad" }, h("p", null, "No live stories here (they last 24 hours)."),
        h("a", { href: "#/" }, "Back to the feed"));
    }
    const mine = ctx.params.userId === ctx.me.userId;
    const stories = entry.stories;
    const frame = h("div", { class: "story" });
    const bar = h("div", { class: "story-bar" });
    const viewers = h("ul", { class: "list viewers", "aria-label": "viewers" });
    let at = Math.max(0, stories.findIndex((s) => !s.seenByCaller));
    if (mine) at = 0;

    const show = async () => {
      const story: Story = stories[at];
      frame.dataset.storyId = story.storyId.toString();
      replace(frame,
        story.media ? mediaView(story.media, "(max-width: 640px) 100vw, 640px") : null,
        story.text ? h("div", { class: "story-text" }, story.text) : null);
      const prev = h("button", { disabled: at === 0, on: { click: () => { at -= 1; void show(); } } }, "‹ Previous");
      const next = h("button", { on: { click: () => {
        if (at + 1 < stories.length) { at += 1; void show(); } else ctx.go("/");
      } } }, at + 1 < stories.length ? "Next ›" : "Close");
      replace(bar, avatar(entry.author), h("strong", null, entry.author?.username ?? ""),
        h("span", { class: "muted grow" }, `${ago(story.createTime)} · ${at + 1} / ${stories.length}`), prev, next);
      replace(viewers);
      if (mine) {
        await viewersOf(ctx, story, bar, viewers);
      } else if (!story.seenByCaller) {
        try {
          await ctx.api.story.markStorySeen({ storyId: story.storyId });
          story.seenByCaller = true;
          frame.dataset.seen = "true";
        } catch (err) {
          ctx.fail(err);
        }
      } else {
        frame.dataset.seen = "true";
      }
    };
    await show();
    return h("div", null, bar, frame, viewers);
  },
};

/** "Seen by N" on your own story (the tray does not count views); the names on click. */
async function viewersOf(ctx: Ctx, story: Story, bar: HTMLElement, list: HTMLElement): Promise<void> {
  try {
    const reply = await ctx.api.story.listStoryViewers({ storyId: story.storyId, pageSize: 100 }, { signal: ctx.signal });
    const show = () => {
      if (reply.viewers.length === 0) replace(list, h("li", { class: "muted" }, "Nobody has seen it yet."));
      else replace(list, ...reply.viewers.map((v) => h("li", null, avatar(v.user),
        h("a", { href: `#/u/${v.user?.username ?? ""}`, class: "grow" }, v.user?.username ?? ""),
        h("span", { class: "muted" }, ago(v.viewTime)))));
    };
    bar.append(h("button", { class: "viewers-button", on: { click: show } }, `Seen by ${reply.viewCount}`));
  } catch (err) {
    ctx.fail(err);
  }
}
