// The signed-in user's notifications while the app is open: the unread count (the badge)
// and every notification as it arrives on StreamNotifications, for whoever listens.
import type { Api } from "./api";
import { follow } from "./live";
import type { Notification } from "./gen/photomesh/notification/v1/notification_service_pb";

type Listener = (notification: Notification) => void;

export class Inbox {
  unread = 0n;
  connected = false;
  private readonly listeners = new Set<Listener>();
  private readonly countListeners = new Set<(unread: bigint) => void>();

  constructor(private readonly api: Api) {}

  /** Keeps the count and the stream current until `signal` aborts (sign-out). */
  async run(signal: AbortSignal): Promise<void> {
    await this.reload(signal);
    await follow(
      this.api.session,
      (options) => this.api.notification.streamNotifications({}, options),
      (message) => {
        this.setUnread(message.unreadCount);
        if (message.notification) for (const listener of this.listeners) listener(message.notification);
      },
      signal,
      (connected) => {
        // On reconnect the count is read again: notifications may have come meanwhile.
        if (connected && !this.connected) void this.reload(signal);
        this.connected = connected;
      },
    );
  }

  async reload(signal?: AbortSignal): Promise<void> {
    try {
      const reply = await this.api.notification.getUnreadCount({}, { signal });
      this.setUnread(reply.unreadCount);
    } catch {
      // The badge stays as it was; the page shows errors of its own calls.
    }
  }

  setUnread(count: bigint): void {
    this.unread = count;
    for (const listener of this.countListeners) listener(count);
  }

  onNotification(listener: Listener, signal: AbortSignal): void {
    this.listeners.add(listener);
    signal.addEventListener("abort", () => this.listeners.delete(listener), { once: true });
  }

  onUnread(listener: (unread: bigint) => void): void {
    this.countListeners.add(listener);
    listener(this.unread);
  }
}
