// Photos and videos at the right size for the screen, with their blurhash as placeholder.
//
// Images list their sized renditions (small 320, medium 640, large 1080 px, in WebP and
// JPEG) in `srcset` with their widths and the layout width in `sizes`: the browser fetches
// the smallest one that is sharp at the screen's width and pixel density. Until it arrives
// the box (sized from the original's aspect ratio, so nothing jumps) shows the blurhash.
import { h } from "./dom";
import { placeholderUrl } from "./blurhash";
import {
  MediaFormat,
  MediaKind,
  VariantName,
  type MediaRef,
  type MediaVariant,
} from "./gen/photomesh/common/v1/media_pb";

const SIZED = new Set([VariantName.SMALL, VariantName.MEDIUM, VariantName.LARGE]);
/** Layout width of a post's media: the whole column, at most 640 CSS px. */
export const POST_SIZES = "(max-width: 640px) 100vw, 640px";

function srcset(variants: MediaVariant[], format: MediaFormat): string {
  return variants
    .filter((v) => SIZED.has(v.name) && v.format === format)
    .sort((a, b) => a.width - b.width)
    .map((v) => `${v.url} ${v.width}w`)
    .join(", ");
}

function find(ref: MediaRef, names: VariantName[], format?: MediaFormat): MediaVariant | undefined {
  for (const name of names) {
    const found = ref.variants.find((v) => v.name === name && (format === undefined || v.format === format));
    if (found) return found;
  }
  return undefined;
}

/** The box every photo or video sits in: aspect ratio and blurhash placeholder. */
function frame(ref: MediaRef, square: boolean): HTMLDivElement {
  const box = h("div", { class: "media" });
  box.style.aspectRatio = square || !ref.width || !ref.height ? "1" : `${ref.width} / ${ref.height}`;
  const placeholder = placeholderUrl(ref.blurhash);
  if (placeholder) box.style.backgroundImage = `url("${placeholder}")`;
  return box;
}

/** A post's or story's photo or video. `sizes` is its layout width (a `sizes` value). */
export function mediaView(ref: MediaRef, sizes: string = POST_SIZES, square = false): HTMLElement {
  const box = frame(ref, square);
  box.dataset.mediaId = ref.mediaId;
  if (ref.kind === MediaKind.VIDEO) {
    const wide = window.innerWidth * window.devicePixelRatio > 1000;
    const source = find(ref, wide
      ? [VariantName.VIDEO_1080P, VariantName.VIDEO_480P, VariantName.VIDEO_144P]
      : [VariantName.VIDEO_480P, VariantName.VIDEO_144P, VariantName.VIDEO_1080P], MediaFormat.MP4);
    const poster = find(ref, [VariantName.POSTER]);
    box.append(h("video", { controls: true, playsinline: true, preload: "metadata", poster: poster?.url },
      source ? h("source", { src: source.url, type: "video/mp4" }) : null));
    return box;
  }
  const fallback = find(ref, [VariantName.MEDIUM, VariantName.SMALL, VariantName.LARGE, VariantName.ORIGINAL],
    MediaFormat.JPEG) ?? ref.variants[0];
  const img = h("img", {
    alt: "", loading: "lazy", decoding: "async", sizes,
    srcset: srcset(ref.variants, MediaFormat.JPEG) || undefined, src: fallback?.url,
  });
  img.addEventListener("load", () => img.classList.add("loaded"), { once: true });
  const webp = srcset(ref.variants, MediaFormat.WEBP);
  box.append(h("picture", null, webp ? h("source", { type: "image/webp", srcset: webp, sizes }) : null, img));
  return box;
}

/** A square tile for grids (a third of the column): the thumbnail or the small rendition. */
export function tileView(ref: MediaRef): HTMLElement {
  const box = frame(ref, true);
  const tile = find(ref, [VariantName.THUMBNAIL, VariantName.POSTER, VariantName.SMALL], MediaFormat.JPEG)
    ?? find(ref, [VariantName.THUMBNAIL, VariantName.POSTER, VariantName.SMALL]);
  if (tile) {
    const img = h("img", { alt: "", loading: "lazy", decoding: "async", src: tile.url });
    img.addEventListener("load", () => img.classList.add("loaded"), { once: true });
    box.append(img);
  }
  return box;
}

/** The round picture of a user (their avatar URL or their initial). */
export function avatar(user: { username: string; avatarUrl: string } | undefined): HTMLElement {
  const el = h("span", { class: "avatar", "aria-hidden": "true" });
  if (user?.avatarUrl) el.style.backgroundImage = `url("${user.avatarUrl}")`;
  else el.textContent = (user?.username ?? "?").slice(0, 1).toUpperCase();
  return el;
}
