// Uploading a photo or video: the bytes go straight from the browser to object storage with
// the pre-signed URL CreateUpload returns (never through a service), then CompleteUpload,
// then GetMedia until processing ends (READY with its variants, or FAILED with a reason).
import { sleep, uuid } from "../dom";
import { MediaKind } from "../gen/photomesh/common/v1/media_pb";
import { MediaStatus, type Media } from "../gen/photomesh/media/v1/media_service_pb";
import type { Ctx } from "../router";

export type Stage = "uploading" | "processing" | "ready" | "failed";

const POLL_MS = 400;

export async function upload(ctx: Ctx, file: File, onStage: (stage: Stage, detail?: string) => void
): Promise<Media> {
  if (!file.type) throw new Error(`${file.name}: unknown file type`);
  const kind = file.type.startsWith("video/") ? MediaKind.VIDEO : MediaKind.IMAGE;
  onStage("uploading");
  const slot = await ctx.api.media.createUpload(
    { requestId: uuid(), contentType: file.type, sizeBytes: BigInt(file.size), kind }, { signal: ctx.signal });
  const put = await fetch(slot.uploadUrl, {
    method: slot.uploadMethod || "PUT", headers: slot.uploadHeaders, body: file, signal: ctx.signal,
  });
  if (!put.ok) throw new Error(`the upload of ${file.name} was refused (${put.status}): ${s3Message(await put.text())}`);
  onStage("processing");
  let media = (await ctx.api.media.completeUpload({ mediaId: slot.mediaId }, { signal: ctx.signal })).media!;
  while (media.status === MediaStatus.PENDING_UPLOAD || media.status === MediaStatus.PROCESSING) {
    await sleep(POLL_MS, ctx.signal);
    if (ctx.signal.aborted) throw new DOMException("left the page", "AbortError");
    media = (await ctx.api.media.getMedia({ mediaId: slot.mediaId }, { signal: ctx.signal })).media!;
  }
  if (media.status !== MediaStatus.READY) {
    onStage("failed", media.failureMessage);
    throw new Error(`${file.name}: ${media.failureMessage || "processing failed"}`);
  }
  onStage("ready");
  return media;
}

/** The <Message> of an S3 XML error, else the text. */
function s3Message(body: string): string {
  return /<Message>([^<]*)<\/Message>/.exec(body)?.[1] ?? body.slice(0, 200);
}
