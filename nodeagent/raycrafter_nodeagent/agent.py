"""The agent loop: claim a frame, render it under a kept-alive lease, report, repeat.

The API decides everything about frames (who renders what, how often a frame may fail);
the agent's part is to never lose a finished frame to a short outage, never hold a frame
it is not working on, and leave when there is nothing left.
"""

import logging
import os
import shlex
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Union

from raycrafter_contract.animation import Animation
from raycrafter_contract.backoff import Backoff
from raycrafter_contract.naming import DEFAULT_SCENE_FILE, MAX_IMAGE_SIDE

from . import confinement, exit_codes, frames
from .api_client import ApiClient, ApiRefused, ApiUnavailable, LeaseGone
from .config import Config
from .lease_keeper import LeaseKeeper
from .log_context import LogContext
from .renderers import FrameTask
from .renderers.command import CommandRenderer
from .renderers.povray import PovrayRenderer
from .renderers.process import RenderProcess, RenderResult
from .signals import StopRequest

log = logging.getLogger(__name__)

Renderer = Union[PovrayRenderer, CommandRenderer]

# How long a stopping agent tries to hand its frame back before leaving it to lease expiry;
# well inside the grace time batch systems give between SIGTERM and SIGKILL (Slurm: 30 s).
RELEASE_PATIENCE_SECONDS = 10.0


class ApiOutage(Exception):
    """The API stayed unreachable for longer than --max-api-outage."""


@dataclass(frozen=True)
class Lease:
    frame: int
    attempt: int
    lease_id: str
    seconds: float
    claimed_at: float
    job: Dict[str, Any]

    @classmethod
    def from_claim(cls, answer: Dict[str, Any], claimed_at: float) -> "Lease":
        try:
            return cls(frame=int(answer["frame"]), attempt=int(answer["attempt"]),
                       lease_id=str(answer["lease"]["id"]),
                       seconds=float(answer["lease"]["seconds"]), claimed_at=claimed_at,
                       job=dict(answer["job"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ApiRefused("claim answer does not follow the protocol (%r): %r"
                             % (error, answer)) from None


class Agent:
    def __init__(self, config: Config, client: ApiClient, context: LogContext,
                 stop: StopRequest) -> None:
        self._config = config
        self._client = client
        self._context = context
        self._stop = stop
        self._renderers: Dict[str, Renderer] = {"povray": PovrayRenderer(config.povray)}
        for name, template in config.renderer_commands.items():
            self._renderers[name] = CommandRenderer(name, template)

    def run(self) -> int:
        """Work until the job has nothing left for this agent; returns the exit status."""
        log.info("agent for job %d starting as %s, %d renderer threads%s",
                 self._config.job_id, self._config.holder, self._config.threads,
                 ", dry run" if self._config.dry_run else "")
        while True:
            claimed_at = time.monotonic()
            answer = self._claim()
            if answer is None:
                return exit_codes.STOPPED
            status = answer.get("status")
            if status in ("finished", "cancelled"):
                log.info("job %d is %s: no frame left for this agent", self._config.job_id, status)
                return exit_codes.DONE
            if status == "wait":
                delay = float(answer.get("retry_after", 5))
                log.info("every remaining frame is leased elsewhere; asking again in %.0f s", delay)
                if self._stop.sleep(delay):
                    return exit_codes.STOPPED
                continue
            if status != "leased":
                raise ApiRefused("claim answered an unknown status: %r" % (answer,))
            self._work_on(Lease.from_claim(answer, claimed_at))
            if self._stop.requested:
                log.warning("stopped by %s after handing back the frame", self._stop.signal_name)
                return exit_codes.STOPPED
            if self._config.once:
                return exit_codes.DONE

    def _claim(self) -> Optional[Dict[str, Any]]:
        """Claim, riding out API outages up to --max-api-outage; None if a signal came first."""
        backoff = Backoff(first=0.5, cap=30.0)
        outage_started: Optional[float] = None
        while not self._stop.requested:
            try:
                return self._client.claim(self._config.holder)
            except LeaseGone as gone:
                # 409 on claim: the job left its active states (failed, done) meanwhile.
                log.info("the API has no frame for this agent any more: %s", gone)
                return {"status": "finished"}
            except ApiUnavailable as error:
                now = time.monotonic()
                outage_started = outage_started or now
                if now - outage_started > self._config.max_api_outage:
                    raise ApiOutage("API unreachable for %.0f s: %s" % (now - outage_started, error))
                delay = backoff.next_delay()
                log.warning("claim failed, retrying in %.1f s: %s", delay, error)
                self._stop.sleep(delay)
        return None

    def _work_on(self, lease: Lease) -> None:
        self._context.enter_frame(lease.frame, lease.attempt, lease.lease_id)
        work_dir = frames.make_work_dir(self._config.frames_dir, lease.frame, lease.lease_id)
        try:
            log.info("claimed frame %d, attempt %d, lease %s for %.0f s",
                     lease.frame, lease.attempt, lease.lease_id, lease.seconds)
            try:
                renderer = self._renderer_for(lease.job)
                task = self._task(lease, work_dir)
                argv = renderer.command(task)
            except ValueError as error:
                self._fail(lease, None, "cannot render: %s" % error, "")
                return
            if self._config.dry_run:
                log.info("dry run: would run %s in %s", _shell_words(argv), self._config.input_dir)
                self._release(lease, None)
                return
            self._render(lease, renderer, task, argv)
        finally:
            frames.remove_work_dir(work_dir)
            self._context.leave_frame()

    def _render(self, lease: Lease, renderer: Renderer, task: FrameTask, argv: List[str]) -> None:
        """Run the renderer confined (confinement.py) in the frame's own work directory,
        which is also its HOME and TMPDIR: a scene's povray.ini, another job's files and
        the agent's token stay out of its reach."""
        confined = confinement.wrapped(argv, read=[task.input_dir], write=[task.work_dir],
                                       required=self._config.require_confinement)
        environment = dict(os.environ, HOME=task.work_dir, TMPDIR=task.work_dir)
        for name in [name for name in environment if name.startswith("RAYCRAFTER_")]:
            del environment[name]
        process = RenderProcess(confined, task.work_dir, self._config.log_tail_lines,
                                renderer.show_line, environment)
        log.info("rendering frame %d: %s", lease.frame, _shell_words(argv))
        with LeaseKeeper(self._client, lease.frame, lease.lease_id, lease.seconds,
                         lease.claimed_at, on_lost=process.stop) as keeper:
            self._stop.call_on_signal(process.stop)
            try:
                result = process.run()
            finally:
                self._stop.call_on_signal(None)
            # The keeper keeps heartbeating while the result is checked and reported.
            self._conclude(lease, keeper, renderer, task, result)

    def _conclude(self, lease: Lease, keeper: LeaseKeeper, renderer: Renderer, task: FrameTask,
                  result: RenderResult) -> None:
        if keeper.lost_reason is not None:
            log.warning("frame %d abandoned, renderer stopped: %s", lease.frame, keeper.lost_reason)
            return
        if self._stop.requested and result.returncode != 0:
            log.warning("%s received: renderer stopped, handing frame %d back",
                        self._stop.signal_name, lease.frame)
            self._release(lease, keeper)
            return
        if result.returncode != 0:
            reason = "%s %s" % (renderer.name, _exit_description(result.returncode))
            detail = renderer.failure_detail(result.log_tail)
            self._fail(lease, keeper, reason + (": " + detail if detail else ""), result.log_tail)
            return
        image = renderer.produced_file(task)
        if image is None:
            self._fail(lease, keeper, "%s exited cleanly but wrote no image" % renderer.name,
                       result.log_tail)
            return
        try:
            delivered = frames.deliver(image, self._config.frames_dir, lease.frame, task.width,
                                       task.height)
        except frames.BadImage as error:
            self._fail(lease, keeper, str(error), result.log_tail)
            return
        log.info("frame %d rendered in %.1f s: %s, %d bytes, sha256 %s", lease.frame,
                 result.seconds, delivered.path, delivered.size, delivered.checksum)
        self._report(lease, keeper, "completion", lambda: self._client.complete(
            lease.frame, lease.lease_id, result.seconds, delivered.checksum, delivered.size,
            result.log_tail))

    def _fail(self, lease: Lease, keeper: Optional[LeaseKeeper], reason: str,
              log_tail: str) -> None:
        log.error("frame %d failed: %s", lease.frame, reason)
        self._report(lease, keeper, "failure",
                     lambda: self._client.fail(lease.frame, lease.lease_id, reason, log_tail))

    def _report(self, lease: Lease, keeper: Optional[LeaseKeeper], what: str,
                call: Callable[[], Dict[str, Any]]) -> None:
        """Report an outcome, retrying through an outage for as long as the lease holds.

        Past that the API hands the frame to someone else anyway, and a report carrying
        the old lease id would be refused.
        """
        backoff = Backoff(first=0.5, cap=30.0)
        deadline = lease.claimed_at + lease.seconds
        while True:
            try:
                answer = call()
            except LeaseGone as gone:
                log.warning("the API refused the %s of frame %d: %s", what, lease.frame, gone)
                return
            except ApiUnavailable as error:
                holds = keeper.holds if keeper is not None else time.monotonic() < deadline
                if not holds:
                    log.error("could not report the %s of frame %d while its lease held; the "
                              "API will hand it out again: %s", what, lease.frame, error)
                    return
                delay = backoff.next_delay()
                log.warning("reporting the %s of frame %d failed, keeping the result and retrying "
                            "in %.1f s: %s", what, lease.frame, delay, error)
                time.sleep(delay)
                continue
            log.info("%s of frame %d recorded, frame is %s", what, lease.frame,
                     answer.get("frame_state", "?"))
            return

    def _release(self, lease: Lease, keeper: Optional[LeaseKeeper]) -> None:
        """Hand the frame back so it is rendered elsewhere at once, not after lease expiry."""
        backoff = Backoff(first=0.5, cap=2.0)
        give_up_at = time.monotonic() + RELEASE_PATIENCE_SECONDS
        while True:
            try:
                self._client.release(lease.frame, lease.lease_id)
                log.info("frame %d handed back to the API", lease.frame)
                return
            except LeaseGone as gone:
                log.info("frame %d was no longer ours to hand back: %s", lease.frame, gone)
                return
            except ApiUnavailable as error:
                holds = keeper.holds if keeper is not None else True
                if time.monotonic() >= give_up_at or not holds:
                    log.error("could not hand frame %d back (%s); it returns to the queue when "
                              "its lease expires", lease.frame, error)
                    return
                time.sleep(backoff.next_delay())

    def _renderer_for(self, job: Dict[str, Any]) -> Renderer:
        name = job.get("renderer") or "povray"
        if name not in self._renderers:
            raise ValueError("renderer %r is not available on this cluster (known: %s)"
                             % (name, ", ".join(sorted(self._renderers))))
        return self._renderers[name]

    def _task(self, lease: Lease, work_dir: str) -> FrameTask:
        """The frame's parameters from the claim answer, each checked before it reaches
        a command line."""
        job = lease.job
        try:
            first, last = int(job["frames"]["first"]), int(job["frames"]["last"])
            width, height = int(job["width"]), int(job["height"])
            scene_file = str(job.get("scene_file") or DEFAULT_SCENE_FILE)
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError("job description incomplete: %r" % (error,)) from None
        if not first <= lease.frame <= last:
            raise ValueError("frame %d is outside the job's range %d..%d" % (lease.frame, first, last))
        if not (0 < width <= MAX_IMAGE_SIDE and 0 < height <= MAX_IMAGE_SIDE):
            raise ValueError("resolution %dx%d is out of range" % (width, height))
        return FrameTask(
            frame=lease.frame, first=first, last=last, animation=_animation(job, first, last),
            width=width, height=height,
            options=_options(job.get("options")),
            scene_path=frames.scene_path(self._config.input_dir, scene_file),
            input_dir=self._config.input_dir, work_dir=work_dir, threads=self._config.threads)


def _animation(job: Dict[str, Any], first: int, last: int) -> Animation:
    """The job's animation; an API from before animations renders the frames asked for as
    the whole animation."""
    given = job.get("animation")
    if given is None:
        return Animation(first, last).check()
    try:
        return Animation(int(given["initial_frame"]), int(given["final_frame"]),
                         float(given["initial_clock"]), float(given["final_clock"]),
                         bool(given["cyclic"])).check()
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError("the job's animation is unusable: %r" % (error,)) from None


def _options(value: Any) -> Dict[str, Any]:
    """The job's renderer options, name -> value; each adapter turns them into arguments."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    raise ValueError("renderer options must be a JSON object, not %r" % (value,))


def _exit_description(returncode: Optional[int]) -> str:
    if returncode is None:
        return "could not be started"
    if returncode < 0:
        return "was killed by signal %d" % -returncode
    return "exited with status %d" % returncode


def _shell_words(argv: List[str]) -> str:
    """The command as one would type it, for logs only; it is never run through a shell."""
    return shlex.join(argv)
