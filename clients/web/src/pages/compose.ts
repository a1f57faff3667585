// Sharing: pick photos (or a video), upload them straight to object storage, watch them
// get processed, then post them with a caption, or add one to your story (#/new?story=1).
import { h, uuid } from "../dom";
import { upload, type Stage } from "../components/upload";
import { StoryAudience } from "../gen/photomesh/story/v1/story_service_pb";
import type { Ctx, Page } from "../router";

const ACCEPT = "image/jpeg,image/png,image/webp,video/mp4,video/quicktime";
const MAX_FILES = 10;

export const composePage: Page = {
  path: "/new",
  title: "New post",
  render(ctx: Ctx) {
    const story = ctx.query.get("story") === "1";
    const files = h("input", { type: "file", id: "f-files", accept: ACCEPT, multiple: !story });
    const text = h("textarea", { id: "f-text", rows: "3", maxlength: story ? "500" : "2200" });
    const audience = h("select", { id: "f-audience" },
      h("option", { value: String(StoryAudience.FOLLOWERS) }, "Followers"),
      h("option", { value: String(StoryAudience.CLOSE_FRIENDS) }, "Close friends"));
    const progress = h("ul", { class: "uploads", "aria-label": "uploads" });
    const submit = h("button", { type: "submit", class: "primary" }, story ? "Add to your story" : "Share");
    const form = h("form", { class: "stack card pad", "aria-label": story ? "new story" : "new post" },
      h("h1", null, story ? "New story" : "New post"),
      h("p", null, h("a", { href: story ? "#/new" : "#/new?story=1" }, story ? "Share a post instead" : "Add to your story instead")),
      h("label", { for: "f-files" }, story ? "Photo or video (optional with text)" : "Photos or a video"), files,
      h("label", { for: "f-text" }, story ? "Text" : "Caption (#hashtags and @mentions work)"), text,
      story ? [h("label", { for: "f-audience" }, "Who can see it"), audience] : null,
      progress, submit);

    // Kept across a failed attempt: a retry with the same media creates nothing twice.
    let requestId = uuid();
    let ready: string[] | undefined;
    files.addEventListener("change", () => { ready = undefined; requestId = uuid(); });

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const picked = Array.from(files.files ?? []);
      if (picked.length > MAX_FILES) return ctx.flash(`At most ${MAX_FILES} photos per post.`, "error");
      if (!story && picked.length === 0) return ctx.flash("Pick at least one photo.", "error");
      if (story && picked.length === 0 && !text.value.trim()) return ctx.flash("Pick a photo or write something.", "error");
      submit.disabled = true;
      if (!ready) progress.replaceChildren();
      try {
        ready ??= await Promise.all(picked.map((file) => {
          const stage = h("span", { class: "stage" });
          progress.append(h("li", { dataset: { file: file.name } }, h("span", null, file.name), stage));
          return upload(ctx, file, (now: Stage, detail?: string) => {
            stage.textContent = detail ? `${now}: ${detail}` : now;
            stage.className = `stage status-${now}`;
          }).then((media) => media.mediaId);
        }));
        if (story) {
          await ctx.api.story.createStory({
            requestId, mediaId: ready[0] ?? "", text: text.value.trim(), audience: Number(audience.value),
          });
          ctx.go(`/stories/${ctx.me.userId}`);
        } else {
          const reply = await ctx.api.post.createPost({ requestId, caption: text.value.trim(), mediaIds: ready });
          ctx.flash("Posted.", "info");
          ctx.go(`/p/${reply.post?.postId}`);
        }
      } catch (err) {
        ctx.fail(err);
      } finally {
        submit.disabled = false;
      }
    });
    return form;
  },
};
