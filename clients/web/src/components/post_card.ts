// One post: author, photos (a carousel when there are several), likes, caption, comments.
import { ago, append, h, plural, replace, uuid } from "../dom";
import { avatar, mediaView } from "../media";
import type { Ctx } from "../router";
import type { Comment, Post } from "../gen/photomesh/post/v1/post_service_pb";
import type { MediaRef } from "../gen/photomesh/common/v1/media_pb";

export interface CardOptions {
  /** Show the comments right away (the post's own page). */
  expanded?: boolean;
  /** Arrived live: highlighted. */
  fresh?: boolean;
}

export function postCard(ctx: Ctx, post: Post, options: CardOptions = {}): HTMLElement {
  const id = post.postId.toString();
  const card = h("article", { class: options.fresh ? "card post fresh" : "card post", dataset: { postId: id } });
  const author = post.author;
  const commentCount = h("a", { href: `#/p/${id}`, class: "comment-count" });
  let total = post.commentCount;
  const counted = (more: bigint) => {
    total += more;
    commentCount.textContent = plural(total, "comment");
  };
  counted(0n);
  append(card, [
    h("div", { class: "post-head" }, avatar(author),
      h("a", { href: `#/u/${author?.username ?? ""}`, class: "grow" }, author?.username ?? "unknown"),
      h("a", { href: `#/p/${id}`, class: "muted" }, ago(post.createTime))),
    carousel(post.media),
    likes(ctx, post, commentCount),
    post.caption ? h("div", { class: "caption" }, h("strong", null, author?.username ?? ""), " ",
      ...richText(post.caption)) : null,
    comments(ctx, post, options.expanded ?? false, () => counted(1n)),
  ]);
  return card;
}

function carousel(media: MediaRef[]): HTMLElement | null {
  if (media.length === 0) return null;
  if (media.length === 1) return mediaView(media[0]);
  let at = 0;
  const slides = media.map((ref, i) => h("div", { class: "slide", hidden: i !== 0 }, mediaView(ref)));
  const counter = h("span", { class: "muted" });
  const show = (next: number) => {
    at = (next + media.length) % media.length;
    slides.forEach((s, i) => { s.hidden = i !== at; });
    counter.textContent = `${at + 1} / ${media.length}`;
  };
  show(0);
  return h("div", { class: "carousel" }, ...slides,
    h("button", { class: "nav prev", "aria-label": "previous photo", on: { click: () => show(at - 1) } }, "‹"),
    h("button", { class: "nav next", "aria-label": "next photo", on: { click: () => show(at + 1) } }, "›"),
    h("div", { class: "pad" }, counter));
}

function likes(ctx: Ctx, post: Post, commentCount: HTMLElement): HTMLElement {
  let liked = post.likedByCaller;
  let count = post.likeCount;
  const button = h("button", { class: "like" });
  const label = h("span", { class: "like-count" });
  const show = () => {
    button.setAttribute("aria-pressed", String(liked));
    button.textContent = liked ? "♥ Liked" : "♡ Like";
    label.textContent = plural(count, "like");
  };
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const reply = liked
        ? await ctx.api.post.unlikePost({ postId: post.postId })
        : await ctx.api.post.likePost({ postId: post.postId });
      liked = !liked;
      count = reply.likeCount;
      show();
    } catch (err) {
      ctx.fail(err);
    } finally {
      button.disabled = false;
    }
  });
  show();
  return h("div", { class: "actions" }, button, label, h("span", { class: "muted" }, "·"), commentCount);
}

function comments(ctx: Ctx, post: Post, expanded: boolean, added: () => void): HTMLElement {
  const list = h("ul", { class: "comments" });
  const more = h("button", { class: "link" }, `View comments`);
  let loaded = false;
  const load = async () => {
    more.disabled = true;
    try {
      const reply = await ctx.api.post.listComments({ postId: post.postId, pageSize: 50 }, { signal: ctx.signal });
      replace(list, ...reply.comments.map(commentItem));
      loaded = true;
      more.remove();
    } catch (err) {
      ctx.fail(err);
      more.disabled = false;
    }
  };
  more.addEventListener("click", load);
  const input = h("input", { type: "text", maxlength: "2200", placeholder: "Add a comment…", "aria-label": "Add a comment" });
  const send = h("button", { type: "submit" }, "Post");
  const form = h("form", { class: "comment-form" }, input, send);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    send.disabled = true;
    try {
      const reply = await ctx.api.post.createComment({ requestId: uuid(), postId: post.postId, text });
      if (reply.comment) list.append(commentItem(reply.comment));
      added();
      input.value = "";
      if (!loaded && post.commentCount > 0n) void load();
    } catch (err) {
      ctx.fail(err);
    } finally {
      send.disabled = false;
    }
  });
  if (expanded) void load();
  return h("div", null, post.commentCount > 0n && !expanded ? h("div", { class: "pad" }, more) : null, list, form);
}

function commentItem(comment: Comment): HTMLElement {
  return h("li", { dataset: { commentId: comment.commentId.toString() } },
    h("a", { href: `#/u/${comment.author?.username ?? ""}` }, h("strong", null, comment.author?.username ?? "")),
    " ", ...richText(comment.text), " ", h("span", { class: "muted" }, ago(comment.createTime)));
}

/** Text with @mentions as profile links (hashtags stay text until explore exists). */
export function richText(text: string): (Node | string)[] {
  return text.split(/(@[a-z0-9._]{3,30})/g).map((part) =>
    part.startsWith("@") ? h("a", { href: `#/u/${part.slice(1)}` }, part) : part);
}
