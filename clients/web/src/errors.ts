// Failed calls as sentences a person can act on, from the google.rpc details every photomesh
// service sends (ErrorInfo reason, BadRequest field violations, RetryInfo delay).
import { Code, ConnectError } from "@connectrpc/connect";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  RetryInfoSchema,
} from "./gen/google/rpc/error_details_pb";

/** Reasons (ErrorInfo.reason, see protos/photomesh/common/v1/errors.proto) whose server
 * message is not the best thing to show. Others show the server's message, which the
 * services write for people. */
const REASONS: Record<string, string> = {
  INVALID_CREDENTIALS: "Wrong username or password.",
  USERNAME_TAKEN: "That username is taken; pick another one.",
  REFRESH_TOKEN_INVALID: "Your session has ended; log in again.",
  TOKEN_EXPIRED: "Your session has expired; log in again.",
  ACCOUNT_PRIVATE: "This account is private: follow it to see its posts and stories.",
  USER_NOT_FOUND: "There is no such user.",
  POST_NOT_FOUND: "This post is no longer there.",
  STORY_NOT_FOUND: "This story has expired or was deleted.",
  CONTENT_TYPE_UNSUPPORTED: "This kind of file cannot be posted: pick a JPEG, PNG or WebP photo, or an MP4 video.",
};

const CODES: Partial<Record<Code, string>> = {
  [Code.Unavailable]: "The service is unavailable right now; try again in a moment.",
  [Code.DeadlineExceeded]: "The server took too long to answer; try again.",
  [Code.ResourceExhausted]: "Too many requests; slow down for a moment.",
  [Code.Unauthenticated]: "You need to log in again.",
  [Code.PermissionDenied]: "You are not allowed to do that.",
  [Code.Internal]: "Something went wrong on the server.",
  [Code.Unknown]: "The server could not be reached; check your connection.",
};

export interface Described {
  message: string;
  reason?: string;
  code?: Code;
}

export function describe(err: unknown): Described {
  if (!(err instanceof ConnectError)) {
    if (err instanceof DOMException && err.name === "AbortError") return { message: "Cancelled." };
    return { message: err instanceof Error ? err.message : String(err) };
  }
  const info = err.findDetails(ErrorInfoSchema)[0];
  const bad = err.findDetails(BadRequestSchema)[0];
  const retry = err.findDetails(RetryInfoSchema)[0];
  const parts: string[] = [];
  const known = info ? REASONS[info.reason] : undefined;
  if (known) {
    parts.push(known);
  } else if (err.rawMessage && err.code !== Code.Unknown && !bad?.fieldViolations.length) {
    parts.push(sentence(err.rawMessage));
  } else if (!bad?.fieldViolations.length) {
    parts.push(CODES[err.code] ?? sentence(err.rawMessage || "The request failed."));
  }
  for (const v of bad?.fieldViolations ?? []) parts.push(`${label(v.field)}: ${sentence(v.description)}`);
  const delay = retry?.retryDelay ? Number(retry.retryDelay.seconds) : 0;
  if (delay > 0) parts.push(`Try again in ${delay} s.`);
  return { message: parts.join(" "), reason: info?.reason, code: err.code };
}

export function message(err: unknown): string {
  return describe(err).message;
}

function sentence(text: string): string {
  const t = text.trim();
  if (!t) return t;
  const first = t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

function label(field: string): string {
  return field.replace(/_/g, " ");
}
