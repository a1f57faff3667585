// The home feed: story tray, then posts newest first, a page at a time, with posts of the
// people you follow arriving live (StreamHomeFeed) while the page is open.
import { h, replace } from "../dom";
import { follow } from "../live";
import { postCard } from "../components/post_card";
import { storyTray } from "../components/story_tray";
import type { Post } from "../gen/photomesh/post/v1/post_service_pb";
import type { Ctx, Page } from "../router";

const PAGE_SIZE = 10;

export const homePage: Page = {
  path: "/",
  title: "Home",
  async render(ctx: Ctx) {
    const tray = h("div", { class: "tray-box" });
    storyTray(ctx).then((el) => replace(tray, el), (err) => ctx.fail(err));
    const live = h("p", { class: "muted live", dataset: { live: "off" } });
    const list = h("div", { class: "feed" });
    const empty = h("p", { class: "muted empty", hidden: true },
      "Nothing here yet: follow people (open a profile from the box above) or share a photo.");
    const more = h("button", { class: "more" }, "Load more");
    const shown = new Set<string>();
    let token = "";

    const add = (post: Post | undefined, fresh: boolean) => {
      if (!post || shown.has(post.postId.toString())) return;
      shown.add(post.postId.toString());
      empty.hidden = true;
      const card = postCard(ctx, post, { fresh });
      if (fresh) list.prepend(card);
      else list.append(card);
    };

    const loadPage = async () => {
      more.disabled = true;
      try {
        const reply = await ctx.api.feed.getHomeFeed({ pageSize: PAGE_SIZE, pageToken: token }, { signal: ctx.signal });
        reply.items.forEach((item) => add(item.post, false));
        token = reply.nextPageToken;
        more.hidden = !token;
        empty.hidden = shown.size > 0;
      } catch (err) {
        ctx.fail(err);
      } finally {
        more.disabled = false;
      }
    };
    more.addEventListener("click", loadPage);

    void follow(ctx.api.session, (options) => ctx.api.feed.streamHomeFeed({}, options),
      (message) => add(message.item?.post, true), ctx.signal,
      (connected) => {
        live.dataset.live = connected ? "on" : "off";
        live.textContent = connected ? "● live" : "";
      });
    await loadPage();
    return h("div", { class: "home" }, tray, live, list, empty, more);
  },
};
