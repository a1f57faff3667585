// A profile (#/u/<username>): counts, follow / unfollow / requested, their posts; on your
// own: editing, private switch and the follow requests waiting for you.
import { Code, ConnectError } from "@connectrpc/connect";
import { ago, append, h, replace } from "../dom";
import { avatar, tileView } from "../media";
import { RelationshipStatus, type Profile } from "../gen/photomesh/graph/v1/social_graph_service_pb";
import type { Ctx, Page } from "../router";

export const profilePage: Page = {
  path: "/u/:username",
  title: "Profile",
  async render(ctx: Ctx) {
    const reply = await ctx.api.graph.getProfileByUsername({ username: ctx.params.username }, { signal: ctx.signal });
    const profile = reply.profile!;
    const self = profile.relationship === RelationshipStatus.SELF;
    const root = h("div", { class: "profile", dataset: { userId: profile.userId } });
    const counts = h("div", { class: "counts" });
    const showCounts = () => replace(counts,
      h("span", null, h("strong", null, String(profile.followerCount)),
        profile.followerCount === 1n ? " follower" : " followers"),
      h("span", null, h("strong", null, String(profile.followingCount)), " following"));
    showCounts();
    append(root, [
      h("div", { class: "profile-head" }, avatar(profile),
        h("div", { class: "grow" },
          h("h1", null, profile.displayName || profile.username),
          h("div", { class: "muted" }, `@${profile.username}`, profile.private ? " · private account" : "",
            profile.followsCaller ? " · follows you" : ""),
          counts,
          profile.bio ? h("p", null, profile.bio) : null),
        self ? null : followButton(ctx, profile, showCounts)),
      self ? ownControls(ctx, profile) : null,
      h("h2", null, "Posts"),
      await posts(ctx, profile)]);
    return root;
  },
};

function followButton(ctx: Ctx, profile: Profile, changed: () => void): HTMLElement {
  const button = h("button", { class: "follow" });
  const show = () => {
    const r = profile.relationship;
    button.textContent = r === RelationshipStatus.FOLLOWING ? "Unfollow"
      : r === RelationshipStatus.REQUESTED ? "Requested (cancel)"
      : r === RelationshipStatus.BLOCKED ? "Blocked" : "Follow";
    button.classList.toggle("primary", r === RelationshipStatus.NONE);
    button.disabled = r === RelationshipStatus.BLOCKED || r === RelationshipStatus.BLOCKED_BY;
  };
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const r = profile.relationship;
      const undo = r === RelationshipStatus.FOLLOWING || r === RelationshipStatus.REQUESTED;
      const reply = undo
        ? await ctx.api.graph.unfollow({ userId: profile.userId })
        : await ctx.api.graph.follow({ userId: profile.userId });
      if (r === RelationshipStatus.FOLLOWING) profile.followerCount -= 1n;
      if (reply.relationship === RelationshipStatus.FOLLOWING) profile.followerCount += 1n;
      profile.relationship = reply.relationship;
      changed();
    } catch (err) {
      ctx.fail(err);
    } finally {
      show();
    }
  });
  show();
  return button;
}

async function posts(ctx: Ctx, profile: Profile): Promise<HTMLElement> {
  const grid = h("div", { class: "grid" });
  const more = h("button", { class: "more", hidden: true }, "Load more");
  const box = h("div", null, grid, more);
  let token = "";
  const load = async () => {
    more.disabled = true;
    try {
      const reply = await ctx.api.feed.getProfileFeed({ userId: profile.userId, pageSize: 12, pageToken: token },
        { signal: ctx.signal });
      for (const item of reply.items) {
        const post = item.post;
        if (post?.media[0]) grid.append(h("a", { href: `#/p/${post.postId}`, "aria-label": post.caption }, tileView(post.media[0])));
      }
      token = reply.nextPageToken;
      more.hidden = !token;
      if (!grid.firstChild) grid.replaceWith(h("p", { class: "muted" }, "No posts yet."));
    } catch (err) {
      if (ConnectError.from(err).code === Code.PermissionDenied) {
        grid.replaceWith(h("p", { class: "muted" }, "This account is private: follow it to see its posts."));
      } else {
        ctx.fail(err);
      }
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener("click", load);
  await load();
  return box;
}

function ownControls(ctx: Ctx, profile: Profile): HTMLElement {
  const name = h("input", { type: "text", id: "f-name", value: profile.displayName, maxlength: "64" });
  const bio = h("textarea", { id: "f-bio", rows: "2" }, profile.bio);
  const isPrivate = h("input", { type: "checkbox", id: "f-private", checked: profile.private });
  const save = h("button", { type: "submit" }, "Save profile");
  const form = h("form", { class: "stack card pad", "aria-label": "edit profile" },
    h("label", { for: "f-name" }, "Name"), name, h("label", { for: "f-bio" }, "Bio"), bio,
    h("label", { for: "f-private" }, isPrivate, " Private account (approve who follows you)"), save);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    save.disabled = true;
    try {
      await ctx.api.graph.updateProfile({
        profile: { displayName: name.value.trim(), bio: bio.value.trim(), private: isPrivate.checked },
        updateMask: { paths: ["display_name", "bio", "private"] },
      });
      ctx.flash("Profile saved.", "info");
    } catch (err) {
      ctx.fail(err);
    } finally {
      save.disabled = false;
    }
  });
  return h("div", null, form, requests(ctx));
}

function requests(ctx: Ctx): HTMLElement {
  const list = h("ul", { class: "list", "aria-label": "follow requests" });
  const box = h("section", { class: "card pad requests" }, h("h2", null, "Follow requests"), list);
  const load = async () => {
    try {
      const reply = await ctx.api.graph.listFollowRequests({ pageSize: 50 }, { signal: ctx.signal });
      if (reply.followRequests.length === 0) replace(list, h("li", { class: "muted" }, "No requests waiting."));
      else replace(list, ...reply.followRequests.map((entry) => {
        const who = entry.requester!;
        const decide = (approve: boolean) => async () => {
          try {
            if (approve) await ctx.api.graph.approveFollowRequest({ requesterUserId: who.userId });
            else await ctx.api.graph.rejectFollowRequest({ requesterUserId: who.userId });
            await load();
          } catch (err) {
            ctx.fail(err);
          }
        };
        return h("li", null, avatar(who), h("a", { href: `#/u/${who.username}`, class: "grow" }, who.username),
          h("span", { class: "muted" }, ago(entry.requestTime)),
          h("button", { class: "primary", on: { click: decide(true) } }, "Approve"),
          h("button", { on: { click: decide(false) } }, "Reject"));
      }));
    } catch (err) {
      ctx.fail(err);
    }
  };
  void load();
  return box;
}
