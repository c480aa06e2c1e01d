"""How subscribers' bandwidth estimates become the bitrate asked of a publisher."""

from __future__ import annotations

from rooms.feedback import BitrateFeedback, RembPolicy

CAMERA = ("consumer", "video")
SCREEN = ("mediator", "screen")


def test_without_any_estimate_the_default_is_asked() -> None:
    feedback = BitrateFeedback()
    assert feedback.stream_target(CAMERA, ["mediator", "business"], now=0) == 1_000_000


def test_the_slowest_current_subscriber_sets_the_stream_target() -> None:
    feedback = BitrateFeedback()
    feedback.on_estimate("mediator", [CAMERA], 1_800_000, now=0)
    feedback.on_estimate("business", [CAMERA], 600_000, now=0)
    assert feedback.stream_target(CAMERA, ["mediator", "business"], now=1) == 600_000
    # The business is in a caucus elsewhere (not a current subscriber): it no longer counts.
    assert feedback.stream_target(CAMERA, ["mediator"], now=1) == 1_800_000


def test_a_subscriber_estimate_is_shared_among_the_streams_it_receives() -> None:
    feedback = BitrateFeedback()
    feedback.on_estimate("business", [CAMERA, SCREEN], 1_000_000, now=0)
    assert feedback.stream_target(CAMERA, ["business"], now=0) == 500_000
    assert feedback.stream_target(SCREEN, ["business"], now=0) == 500_000


def test_targets_are_bounded() -> None:
    feedback = BitrateFeedback(RembPolicy(floor_bps=100_000, ceiling_bps=2_500_000))
    feedback.on_estimate("mediator", [CAMERA], 20_000, now=0)
    assert feedback.stream_target(CAMERA, ["mediator"], now=0) == 100_000
    feedback.on_estimate("mediator", [CAMERA], 50_000_000, now=0)
    assert feedback.stream_target(CAMERA, ["mediator"], now=0) == 2_500_000


def test_old_and_forgotten_estimates_fall_back_to_the_default() -> None:
    feedback = BitrateFeedback(RembPolicy(max_age_s=5))
    feedback.on_estimate("mediator", [CAMERA], 300_000, now=0)
    assert feedback.stream_target(CAMERA, ["mediator"], now=4) == 300_000
    assert feedback.stream_target(CAMERA, ["mediator"], now=6) == 1_000_000
    feedback.on_estimate("mediator", [CAMERA], 300_000, now=10)
    feedback.forget_subscriber("mediator")
    assert feedback.stream_target(CAMERA, ["mediator"], now=10) == 1_000_000


def test_a_publishers_target_adds_its_streams_and_audio() -> None:
    feedback = BitrateFeedback()
    feedback.on_estimate("consumer", [("mediator", "video")], 700_000, now=0)
    feedback.on_estimate("consumer", [SCREEN], 1_200_000, now=0)
    streams = [(("mediator", "video"), ["consumer"]), (SCREEN, ["consumer"])]
    assert feedback.publisher_target(streams, has_audio=True, now=0) == 700_000 + 1_200_000 + 64_000
    assert feedback.publisher_target(streams, has_audio=False, now=0) == 1_900_000
    assert feedback.on_estimate("consumer", [], 1, now=0) is None  # names no stream: ignored
