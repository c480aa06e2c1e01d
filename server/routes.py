"""The route table, and nothing else."""

from __future__ import annotations

from aiohttp import web

from server import (
    agreement_api,
    api,
    dashboard_api,
    evidence,
    health,
    metrics,
    outcome_api,
    playback_api,
    recordings_api,
    transcript_api,
    views,
)


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/session", api.login)
    app.router.add_delete("/api/session", api.logout)
    app.router.add_get("/api/me", api.me)
    app.router.add_get("/api/office", api.office)
    app.router.add_get("/api/cases", api.list_cases)
    app.router.add_post("/api/cases", api.create_case)
    app.router.add_get("/api/cases/{number}", api.get_case)
    app.router.add_patch("/api/cases/{number}", api.update_case)
    app.router.add_post("/api/cases/{number}/sittings/{sitting_id}/close", api.close_sitting)
    app.router.add_post("/api/cases/{number}/status", api.change_status)
    app.router.add_post("/api/cases/{number}/parties", api.add_party)
    app.router.add_post("/api/cases/{number}/invitations", api.issue_invitations)
    app.router.add_get("/api/cases/{number}/invitations", api.list_invitations)
    app.router.add_post("/api/invitations/{invitation_id}/revoke", api.revoke_invitation)
    app.router.add_get("/api/cases/{number}/record", api.get_record)
    app.router.add_post("/api/cases/{number}/notes", api.add_note)
    app.router.add_get("/api/cases/{number}/evidence", evidence.list_case_evidence)
    app.router.add_get(
        "/api/cases/{number}/evidence/{evidence_id}/file", evidence.case_evidence_file
    )
    app.router.add_get("/api/cases/{number}/recordings", recordings_api.list_case_recordings)
    app.router.add_get(
        "/api/cases/{number}/recordings/{recording_id}/file", recordings_api.case_recording_file
    )
    app.router.add_post(
        "/api/cases/{number}/sittings/{sitting_id}/playback", playback_api.request_playback
    )
    app.router.add_get("/api/cases/{number}/playback", playback_api.list_playback)
    app.router.add_get("/api/cases/{number}/playback/{job_id}/file", playback_api.playback_file)
    app.router.add_get("/api/cases/{number}/transcript", transcript_api.get_transcript)
    app.router.add_get("/api/cases/{number}/transcript.html", transcript_api.transcript_html)
    app.router.add_get("/api/cases/{number}/transcript.pdf", transcript_api.transcript_pdf)
    app.router.add_put("/api/cases/{number}/summary", transcript_api.put_summary)
    app.router.add_get(
        "/api/cases/{number}/sittings/{sitting_id}/termination.pdf", outcome_api.termination_pdf
    )
    app.router.add_get("/api/cases/{number}/satisfaction", outcome_api.case_satisfaction)
    app.router.add_get("/api/cases/{number}/bundle.zip", outcome_api.bundle_zip)
    app.router.add_get("/api/rooms/{room_id}/satisfaction", outcome_api.get_satisfaction)
    app.router.add_post("/api/rooms/{room_id}/satisfaction", outcome_api.post_satisfaction)
    app.router.add_post("/api/rooms/{room_id}/evidence", evidence.upload_evidence)
    app.router.add_get("/api/rooms/{room_id}/evidence", evidence.list_room_evidence)
    app.router.add_get("/api/rooms/{room_id}/evidence/{evidence_id}", evidence.room_evidence_file)
    app.router.add_get("/api/my-work", dashboard_api.my_work)
    app.router.add_get("/api/stats", dashboard_api.get_stats)
    app.router.add_get("/api/stats/cases", dashboard_api.figure_cases)
    app.router.add_get("/api/stats/export.csv", dashboard_api.export_csv)
    app.router.add_get("/api/stats/export.xlsx", dashboard_api.export_xlsx)
    app.router.add_get("/api/stats/summary.pdf", dashboard_api.export_pdf)
    app.router.add_get("/api/cases/{number}/agreement", agreement_api.get_agreement)
    app.router.add_get("/api/cases/{number}/agreement.pdf", agreement_api.agreement_pdf)
    app.router.add_post("/api/cases/{number}/agreement/performed", agreement_api.mark_performed)
    app.router.add_get("/api/rooms/{room_id}/agreement.pdf", agreement_api.room_agreement_pdf)
    app.router.add_get("/api/verify/{code}", agreement_api.verify_code)
    app.router.add_post("/api/verify/{code}", agreement_api.verify_pdf)
    app.router.add_get("/verify", views.verify_page)
    app.router.add_get("/api/openapi.json", views.openapi_json)
    app.router.add_get("/", views.index)
    app.router.add_get("/room/{room_id}", views.room_page)
    app.router.add_get("/console", views.console_page)
    app.router.add_get("/vendor/{name}", views.vendor)
    app.router.add_get("/api/invitations/inspect", views.inspect_invitation)
    app.router.add_get("/healthz", views.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", metrics.metrics_view)
    app.router.add_route("*", "/admin/drain", health.drain)
    app.router.add_static("/static/", views.STATIC_DIR, follow_symlinks=False)
