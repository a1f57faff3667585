// Notifications (#/notifications): newest first, live ones added on top as they arrive,
// all marked read while you look at them (the badge goes back to zero).
import { ago, h } from "../dom";
import { avatar } from "../media";
import { NotificationType, type Notification } from "../gen/photomesh/notification/v1/notification_service_pb";
import type { Ctx, Page } from "../router";

const VERBS: Record<NotificationType, string> = {
  [NotificationType.UNSPECIFIED]: "did something",
  [NotificationType.NEW_FOLLOWER]: "started following you",
  [NotificationType.FOLLOW_REQUEST]: "asked to follow you",
  [NotificationType.FOLLOW_APPROVED]: "accepted your follow request",
  [NotificationType.POST_LIKED]: "liked your post",
  [NotificationType.COMMENT_ADDED]: "commented on your post",
  [NotificationType.MENTIONED]: "mentioned you",
  [NotificationType.STORY_PUBLISHED]: "added to their story",
  [NotificationType.POST_PUBLISHED]: "shared a new post",
  [NotificationType.MESSAGE_RECEIVED]: "sent you a message",
};

function who(n: Notification): string {
  const names = n.actors.map((a) => a.username);
  const others = Number(n.actorCount) - names.length;
  if (others > 0) return `${names.join(", ")} and ${others} ${others === 1 ? "other" : "others"}`;
  return names.length > 1 ? `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}` : names[0] ?? "Someone";
}

function link(n: Notification, me: string): string {
  if (n.postId) return `#/p/${n.postId}`;
  if (n.type === NotificationType.STORY_PUBLISHED && n.actors[0]) return `#/stories/${n.actors[0].userId}`;
  if (n.type === NotificationType.FOLLOW_REQUEST) return `#/u/${me}`;
  return n.actors[0] ? `#/u/${n.actors[0].username}` : "#/notifications";
}

export function notificationItem(n: Notification, me: string): HTMLElement {
  return h("li", { class: n.read ? "notification" : "notification unread",
    dataset: { notificationId: n.notificationId.toString(), type: NotificationType[n.type] } },
    avatar(n.actors[0]),
    h("a", { href: link(n, me), class: "grow" }, h("strong", null, who(n)), ` ${VERBS[n.type] ?? ""}`,
      n.textPreview ? `: “${n.textPreview}”` : "", " ", h("span", { class: "muted" }, ago(n.createTime))),
    n.thumbnailUrl ? h("img", { src: n.thumbnailUrl, alt: "" }) : null);
}

export const notificationsPage: Page = {
  path: "/notifications",
  title: "Notifications",
  async render(ctx: Ctx) {
    const list = h("ul", { class: "list card", "aria-label": "notifications" });
    const more = h("button", { class: "more", hidden: true }, "Load more");
    const items = new Map<string, HTMLElement>();
    let newest = 0n;
    let token = "";

    const put = (n: Notification, top: boolean) => {
      const id = n.notificationId.toString();
      const el = notificationItem(n, ctx.me.username);
      const old = items.get(id);
      if (old) old.remove();  // a grouped notification that gained actors moves up
      items.set(id, el);
      if (top || old) list.prepend(el);
      else list.append(el);
      if (n.notificationId > newest) newest = n.notificationId;
    };
    const markRead = async () => {
      if (!newest) return;
      try {
        const reply = await ctx.api.notification.markNotificationsRead(
          { upTo: { case: "upToNotificationId", value: newest } });
        ctx.inbox.setUnread(reply.unreadCount);
      } catch (err) {
        ctx.fail(err);
      }
    };
    const load = async () => {
      more.disabled = true;
      try {
        const reply = await ctx.api.notification.listNotifications({ pageSize: 20, pageToken: token }, { signal: ctx.signal });
        reply.notifications.forEach((n) => put(n, false));
        token = reply.nextPageToken;
        more.hidden = !token;
        if (items.size === 0) list.append(h("li", { class: "muted pad empty" }, "No notifications yet."));
      } catch (err) {
        ctx.fail(err);
      } finally {
        more.disabled = false;
      }
    };
    more.addEventListener("click", load);
    ctx.inbox.onNotification((n) => {
      list.querySelector(".empty")?.remove();
      put(n, true);
      void markRead();
    }, ctx.signal);
    await load();
    void markRead();
    return h("div", null, h("h1", null, "Notifications"), list, more);
  },
};
