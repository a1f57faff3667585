// The photomesh services over gRPC-Web (@connectrpc/connect-web), one typed client each.
//
// Every call except AuthService's carries "authorization: Bearer <access token>". A unary
// call answered UNAUTHENTICATED (the token expired between our check and the server's) is
// retried once with a refreshed token; server streams are reopened by `live.ts` instead,
// since their request cannot be replayed here.
import { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { AuthService } from "./gen/photomesh/auth/v1/auth_service_pb";
import { FeedService } from "./gen/photomesh/feed/v1/feed_service_pb";
import { SocialGraphService } from "./gen/photomesh/graph/v1/social_graph_service_pb";
import { MediaService } from "./gen/photomesh/media/v1/media_service_pb";
import { NotificationService } from "./gen/photomesh/notification/v1/notification_service_pb";
import { PostService } from "./gen/photomesh/post/v1/post_service_pb";
import { StoryService } from "./gen/photomesh/story/v1/story_service_pb";
import { Session } from "./session";

export interface Api {
  session: Session;
  auth: Client<typeof AuthService>;
  graph: Client<typeof SocialGraphService>;
  post: Client<typeof PostService>;
  feed: Client<typeof FeedService>;
  story: Client<typeof StoryService>;
  media: Client<typeof MediaService>;
  notification: Client<typeof NotificationService>;
}

/** Where the edge is: the page's `photomesh-edge` meta tag, else the page's own origin. */
export function edgeUrl(): string {
  const configured = document.querySelector<HTMLMetaElement>('meta[name="photomesh-edge"]')?.content;
  return (configured || window.location.origin).replace(/\/$/, "");
}

export function createApi(baseUrl: string): Api {
  const anonymous = createGrpcWebTransport({ baseUrl });
  const auth = createClient(AuthService, anonymous);
  const session = new Session(auth);
  const signedIn: Transport = createGrpcWebTransport({ baseUrl, interceptors: [bearer(session)] });
  return {
    session,
    auth,
    graph: createClient(SocialGraphService, signedIn),
    post: createClient(PostService, signedIn),
    feed: createClient(FeedService, signedIn),
    story: createClient(StoryService, signedIn),
    media: createClient(MediaService, signedIn),
    notification: createClient(NotificationService, signedIn),
  };
}

function bearer(session: Session): Interceptor {
  return (next) => async (req) => {
    const token = await session.accessToken();
    req.header.set("authorization", `Bearer ${token}`);
    try {
      return await next(req);
    } catch (err) {
      if (req.stream || ConnectError.from(err).code !== Code.Unauthenticated) throw err;
      const fresh = await session.refresh(token);
      req.header.set("authorization", `Bearer ${fresh}`);
      return await next(req);
    }
  };
}
