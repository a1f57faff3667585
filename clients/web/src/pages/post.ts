// One post with its comments (#/p/<post id>).
import { postCard } from "../components/post_card";
import type { Ctx, Page } from "../router";

export const postPage: Page = {
  path: "/p/:postId",
  title: "Post",
  async render(ctx: Ctx) {
    const reply = await ctx.api.post.getPost({ postId: BigInt(ctx.params.postId) }, { signal: ctx.signal });
    return postCard(ctx, reply.post!, { expanded: true });
  },
};
