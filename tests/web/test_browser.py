"""The web app in a real browser (headless chromium), over gRPC-Web through the edge: two
people sign up, follow, post a photo, see it arrive live, like, comment, share a story and
view it, and get notified; an expired access token is refreshed without the person
noticing. Every step leaves a screenshot (see the run's summary line); what the pages
showed is then checked against the server over REST."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.backends.envoy import EnvoyBackend
from tests.edge.conftest import PASSWORD, make_account
from tests.edge.http import request
from tests.helpers import new_username, private_key, signed_token
from tests.media_support import jpeg_bytes

Run = Callable[..., dict[str, Any]]


def _get(edge: EnvoyBackend, path: str, token: str) -> dict[str, Any]:
    reply = request(edge.settings.envoy_port, "GET", path, token=token)
    assert reply.status == 200, reply.body[:500]
    body: dict[str, Any] = reply.json()
    return body


def _variant_of(post: dict[str, Any], url: str) -> str:
    names = {v["url"]: v["name"] for v in post["media"][0]["variants"]}
    assert url in names, (url, names)
    return names[url]


def test_two_people_follow_post_like_comment_and_share_a_story(
        run_browser: Run, web_edge: EnvoyBackend, other_origin: str, tmp_path: Path) -> None:
    photo, story = tmp_path / "lake.jpg", tmp_path / "behind.jpg"
    photo.write_bytes(jpeg_bytes(1600, 1200))
    story.write_bytes(jpeg_bytes(720, 1280, gps=False))
    a, b = new_username("a"), new_username("b")
    out = run_browser("two_users", appA=f"{web_edge.endpoint()}/", appB=other_origin,
                      userA=a, userB=b, password=PASSWORD, image=str(photo),
                      storyImage=str(story))
    token_a, token_b = out["sessionA"]["accessToken"], out["sessionB"]["accessToken"]

    post = _get(web_edge, f"/v1/posts/{out['postId']}", token_b)["post"]
    assert (post["author"]["username"], post["likeCount"], post["commentCount"],
            post["likedByCaller"]) == (a, "1", "1", True)
    assert sorted(post["hashtags"]) == ["photomesh", "sunrise"]
    assert [m["username"] for m in post["mentions"]] == [b]
    # The variant for the screen: a 412 px phone at 1x gets the 640 px rendition, a 1280 px
    # screen at 2x the 1080 px one; both showed the blurhash until it loaded.
    assert _variant_of(post, out["imageA"]["currentSrc"]) == "VARIANT_NAME_MEDIUM"
    assert _variant_of(post, out["imageB"]["currentSrc"]) == "VARIANT_NAME_LARGE"
    for image in (out["imageA"], out["imageB"]):
        assert image["placeholder"].startswith('url("data:image/png'), image

    comments = _get(web_edge, f"/v1/posts/{out['postId']}/comments", token_a)["comments"]
    assert [(c["author"]["username"], c["text"]) for c in comments] == [
        (b, "Gorgeous colours!")]
    inbox = _get(web_edge, "/v1/notifications", token_a)["notifications"]
    assert {"NOTIFICATION_TYPE_NEW_FOLLOWER", "NOTIFICATION_TYPE_POST_LIKED",
            "NOTIFICATION_TYPE_COMMENT_ADDED"} <= {n["type"] for n in inbox}
    assert _get(web_edge, "/v1/notifications:unreadCount", token_a)["unreadCount"] == "0"
    mentions = _get(web_edge, "/v1/notifications", token_b)["notifications"]
    assert "NOTIFICATION_TYPE_MENTIONED" in {n["type"] for n in mentions}

    viewers = _get(web_edge, f"/v1/stories/{out['storyId']}/viewers", token_a)["viewers"]
    assert [v["user"]["username"] for v in viewers] == [b]
    assert out["unseenAfterViewing"] == 0


def test_an_expired_access_token_is_refreshed_once_and_the_app_carries_on(
        run_browser: Run, web_edge: EnvoyBackend, test_run_dir: Path) -> None:
    person = make_account(web_edge)
    expired = signed_token(private_key(test_run_dir), sub=person.user_id, ttl=-120)
    out = run_browser("expired_token", appA=f"{web_edge.endpoint()}/", userC=person.username,
                      password=PASSWORD, expiredToken=expired)
    # Five calls failed with the expired token at once; one refresh served them all.
    assert out["refreshesAfterExpiry"] == 1, out
    assert out["refreshesTotal"] == 2  # and one more, ahead of time, near the expiry
    before, after = out["before"], out["after"]
    assert after["accessToken"] not in (expired, before["accessToken"])
    assert after["refreshToken"] != before["refreshToken"]  # rotated
    assert out["alerts"] == []
    profile = _get(web_edge, f"/v1/users/{person.user_id}", after["accessToken"])["profile"]
    assert profile["bio"] == "still signed in"


def test_failed_calls_read_as_sentences_from_their_error_details(
        run_browser: Run, web_edge: EnvoyBackend) -> None:
    person = make_account(web_edge)
    out = run_browser("readable_errors", appA=f"{web_edge.endpoint()}/", userC=person.username,
                      newUser=new_username("c"), password=PASSWORD)
    assert out["taken"] == "That username is taken; pick another one."  # ErrorInfo reason
    assert out["weak"] == "password: Must be 8 to 128 characters."      # BadRequest
    assert out["wrong"] == "Wrong username or password."
