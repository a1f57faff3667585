// Building the page: one small element factory and a few formatting helpers. No framework.
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";

type Child = Node | string | number | null | undefined | false;
type Props = Record<string, unknown> & {
  class?: string;
  on?: Partial<Record<keyof HTMLElementEventMap, (event: Event) => void>>;
  dataset?: Record<string, string>;
};

/** `h("button", {class: "primary", on: {click}}, "Like")`: an element with properties
 * (strings become attributes, except `value`/`checked`/`disabled` and friends which are
 * set as properties) and children (strings become text, never HTML). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K, props: Props | null = null, ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "on") {
      for (const [type, handler] of Object.entries(value as Props["on"] ?? {})) {
        el.addEventListener(type, handler as EventListener);
      }
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key in PROPERTIES) {
      (el as unknown as Record<string, unknown>)[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

const PROPERTIES = { value: 1, checked: 1, disabled: 1, hidden: 1, multiple: 1, required: 1 };

export function append(parent: Node, children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
}

export function replace(parent: Node, ...children: (Child | Child[])[]): void {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, children);
}

/** "just now", "5m", "3h", "2d", then the date. */
export function ago(time: Timestamp | undefined): string {
  if (!time) return "";
  const date = timestampDate(time);
  const seconds = Math.max(0, (Date.now() - date.getTime()) / 1000);
  if (seconds < 45) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)}h`;
  if (seconds < 7 * 86400) return `${Math.round(seconds / 86400)}d`;
  return date.toLocaleDateString();
}

export function plural(n: bigint | number, one: string, many = `${one}s`): string {
  return `${n} ${BigInt(n) === 1n ? one : many}`;
}

/** A v4 UUID (request ids); crypto.randomUUID needs a secure context, this does not. */
export function uuid(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}
