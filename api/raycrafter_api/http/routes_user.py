"""User endpoints under /api/v1/jobs: parse and check the request, then call plain functions."""
import os

import bottle
from raycrafter_contract.naming import MAX_FRAME_NUMBER

from ..frames import frame_cursor, frame_results, thumbnails
from ..jobs import (cancellation, events, job_creation, job_lookup, job_requests, job_states,
                    job_tags, job_views)
from ..problems import bad_field
from ..storage import archives, files
from . import httpio
from .errors import ApiError

# Multipart framing and the small form fields may add this much to the scene's size.
FORM_OVERHEAD = 1024 * 1024
USERS = ("user", "admin")


def install(app, config):
    @app.get("/api/v1/me")
    def who_am_i():
        """Who the token stands for: the dashboard shows an admin's pages to admins only."""
        caller = httpio.principal(*USERS)
        return httpio.send_json({"name": caller.user_name, "role": caller.kind})

    @app.post("/api/v1/jobs")
    def create_job():
        caller = httpio.principal(*USERS)
        httpio.require_media_type("multipart/form-data")
        if bottle.request.content_length > config.max_upload_bytes + FORM_OVERHEAD:
            raise ApiError(413, "too_large",
                           f"uploads are limited to {config.max_upload_bytes} bytes",
                           {"limit": config.max_upload_bytes})
        try:
            scene = bottle.request.files.get("scene")
            fields = {key: bottle.request.forms.get(key) for key in bottle.request.forms}
        # bottle's parser raises ValueError for control characters in part headers and
        # UnicodeDecodeError (a ValueError) for names that are not UTF-8.
        except (bottle.MultipartError, ValueError) as error:
            raise bad_field("body", f"malformed multipart body: {error}") from None
        if scene is None:
            raise bad_field("scene", "is required (a .pov file or an archive of a scene folder)")
        kind = archives.kind_of(scene.raw_filename)
        upload = files.receive(config, scene.file, config.max_upload_bytes)
        upload.kind = kind
        try:
            checked = archives.check(upload.path, kind, config.scene_limits,
                                     fields.get("scene_file"), scene.raw_filename)
            values = job_requests.validate(fields, checked, config)
            job = job_creation.create(caller.user_id, values, upload, caller,
                              lambda job: files.place(upload, files.input_path(config, job)))
        finally:
            upload.discard()
        return httpio.send_json(job_views.view_of(job), 201)

    @app.get("/api/v1/jobs")
    def list_jobs():
        caller = httpio.principal(*USERS)
        state = bottle.request.query.get("state") or None
        if state:
            job_states.check_state_name("state", state)
        limit, offset = httpio.page_params()
        filters = {"state": state, "name": httpio.text_param("name"),
                   "owner": httpio.text_param("owner")}
        query = job_views.visible_jobs(caller, **filters)
        return httpio.send_json_tagged(
            job_tags.of_listing(caller, query, job_views.NEWEST_FIRST, limit, offset, filters),
            lambda: job_views.page_of(query, limit, offset))

    @app.get("/api/v1/jobs/<job_id:int>")
    def get_job(job_id):
        job = job_lookup.visible_job(httpio.principal(*USERS), job_id)
        return httpio.send_json_tagged(job_tags.of_job(job.id),
                                       lambda: job_views.view_of_loaded(job))

    @app.post("/api/v1/jobs/<job_id:int>/cancel")
    def cancel_job(job_id):
        job = cancellation.cancel(httpio.principal(*USERS), job_id)
        return httpio.send_json(job_views.view_of(job))

    @app.get("/api/v1/jobs/<job_id:int>/events")
    def job_events(job_id):
        job = job_lookup.visible_job(httpio.principal(*USERS), job_id)
        limit, offset = httpio.page_params(default_limit=100)
        return httpio.send_json_revalidated(events.list_page(job, limit, offset))

    @app.get("/api/v1/jobs/<job_id:int>/frames")
    def job_frames(job_id):
        job = job_lookup.visible_job(httpio.principal(*USERS), job_id)
        limit, offset = httpio.page_params(default_limit=100)
        query = bottle.request.query
        return httpio.send_json_revalidated(frame_results.list_page(
            job, limit, offset, frame_cursor.parse(query.get("after")),
            frame_cursor.parse(query.get("until"), "until"),
            httpio.optional_int("from_number", 0, MAX_FRAME_NUMBER)))

    @app.get("/api/v1/jobs/<job_id:int>/frames/<number:frame>")
    def frame_image(job_id, number):
        job = job_lookup.visible_job(httpio.principal(*USERS), job_id)
        return httpio.send_file(frame_results.image_path(config, job, number), "image/png")

    @app.get("/api/v1/jobs/<job_id:int>/frames/<number:frame>/thumbnail")
    def frame_thumbnail(job_id, number):
        job = job_lookup.visible_job(httpio.principal(*USERS), job_id)
        # A frame's image never changes once stored, so neither does its thumbnail.
        return httpio.send_file(thumbnails.thumbnail_path(config, job, number), "image/png",
                                headers={"Cache-Control": "private, max-age=86400"})

    @app.get("/api/v1/jobs/<job_id:int>/frames/<number:frame>/log")
    def frame_log(job_id, number):
        job = job_lookup.visible_job(httpio.principal(*USERS), job_id)
        frame = frame_results.get(job, number)
        bottle.response.content_type = "text/plain; charset=utf-8"
        return frame.log_tail or ""

    @app.get("/api/v1/jobs/<job_id:int>/archive")
    def job_archive(job_id):
        job = job_lookup.visible_job(httpio.principal(*USERS), job_id)
        path = frame_results.build_archive(config, job)
        try:
            return httpio.send_file(path, "application/zip", f"job-{job.id}-frames.zip")
        finally:
            os.unlink(path)  # the open handle keeps the data until the response is sent
