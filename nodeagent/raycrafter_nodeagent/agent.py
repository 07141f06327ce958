"""The agent loop: claim frames, render them under a kept-alive lease, report, repeat.

A claim leases a chunk of consecutive frames; POV-Ray renders the chunk as one range of the
animation in one process, and each frame is checked and reported as soon as POV-Ray moves
on to the next, so frames arrive while the chunk renders.

The API decides everything about frames (who renders what, how often a frame may fail);
the agent's part is to never lose a finished frame to a short outage, never hold a frame
it is not working on, never put a frame into place it no longer holds, and leave when
there is nothing left. Where the kernel cannot confine the renderer and the cluster
profile does not allow rendering unconfined, every frame it claims fails, saying why, so
the job fails with that reason instead of being submitted again and again.
"""

import logging
import os
import shlex
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar, Union

from raycrafter_contract.animation import Animation
from raycrafter_contract.naming import MAX_CLAIM_FRAMES, MAX_IMAGE_SIDE
from raycrafter_contract.utilities.backoff import Backoff
from raycrafter_contract.wire.agent_calls import (AgentJob, ClaimEnded, ClaimLeased, ClaimWait,
                                                  FrameDone, FrameFailed)
from raycrafter_contract.wire.retrying import delay_before_retry

from . import confinement, exit_codes, frames
from .api_client import ApiClient, ApiUnavailable, ClaimAnswer, LeaseGone
from .config import Config
from .deliveries import Deliveries
from .lease_keeper import LeaseKeeper
from .limits import ProcessLimits
from .log_context import LogContext
from .renderer_output import ForwardedOutput
from .renderers import FrameTask
from .renderers.command import CommandRenderer
from .renderers.povray import PovrayRenderer
from .renderers.process import RenderProcess, RenderResult
from .signals import StopRequest

log = logging.getLogger(__name__)

Renderer = Union[PovrayRenderer, CommandRenderer]
Answer = TypeVar("Answer")

# How long a stopping agent tries to hand its frame back before leaving it to lease expiry;
# well inside the grace time batch systems give between SIGTERM and SIGKILL (Slurm: 30 s).
RELEASE_PATIENCE_SECONDS = 10.0


class ApiOutage(Exception):
    """The API stayed unreachable for longer than --max-api-outage."""


@dataclass(frozen=True)
class Lease:
    """A claimed chunk: consecutive frames of the job under one lease id."""

    frames: Tuple[int, ...]
    attempt: int
    lease_id: str
    seconds: float
    claimed_at: float
    job: AgentJob
    protocol: int = 1  # the agent protocol the API speaks: 2 takes several frames a report

    @property
    def frame(self) -> int:
        """The chunk's first frame, through which the agent heartbeats the whole chunk."""
        return self.frames[0]

    @classmethod
    def from_claim(cls, answer: ClaimLeased, claimed_at: float) -> "Lease":
        return cls(frames=answer.frames, attempt=answer.attempt, lease_id=answer.lease.id,
                   seconds=float(answer.lease.seconds), claimed_at=claimed_at,
                   job=answer.job, protocol=answer.protocol)


@dataclass
class RenderRun:
    """One renderer process at work on a run of a lease's frames: what it renders, under
    which lease and limits, and how far it got. Its frames are delivered in order (checked
    and placed, or failed) as the renderer finishes them."""

    lease: Lease
    keeper: LeaseKeeper
    renderer: Renderer
    task: FrameTask
    argv: List[str]
    limits: ProcessLimits
    frames: List[int]
    started_at: float = 0.0
    started: int = 0    # frames the renderer began
    delivered: int = 0  # frames taken from the work directory (reported or failed)
    # Of each frame finished, in order: when (monotonic), and its renderer's output.
    finished_at: List[float] = field(default_factory=list)
    log_tails: List[str] = field(default_factory=list)

    @property
    def finished(self) -> int:
        return len(self.finished_at)

    @property
    def undelivered(self) -> List[int]:
        return self.frames[self.delivered:]

    def finish_frame(self, log_tail: str) -> None:
        """The renderer is done with the next frame of the run (its image is written)."""
        self.finished_at.append(time.monotonic())
        self.log_tails.append(log_tail)

    def render_seconds(self, index: int) -> float:
        """What the renderer spent on the run's frame ``index`` alone."""
        since = self.finished_at[index - 1] if index else self.started_at
        return self.finished_at[index] - since


class Agent:
    def __init__(self, config: Config, client: ApiClient, context: LogContext,
                 stop: StopRequest) -> None:
        self._config = config
        self._client = client
        self._context = context
        self._stop = stop
        self._slot = threading.local()  # each render slot's own renderer adapters
        self._busy_slots = 0
        self._busy_guard = threading.Lock()
        self._unconfinable: Optional[str] = None  # why the kernel refuses confinement

    def run(self) -> int:
        """Work until the job has nothing left for this agent; returns the exit status.

        Each render slot is a thread with its own claims and renderer process; the agent
        ends when every slot has."""
        slots = 1 if self._config.once else self._config.slots
        log.info("agent for job %d starting as %s, %d render slot(s) of %d thread(s)%s",
                 self._config.job_id, self._config.holder, slots, self._config.threads,
                 ", dry run" if self._config.dry_run else "")
        self._check_confinement()
        if slots == 1:
            return self._serve(alone=True)
        outcomes: List[Any] = []

        def serve() -> None:
            try:
                outcomes.append(self._serve(alone=False))
            except BaseException as error:  # handed to the main thread, raised there
                outcomes.append(error)

        threads = [threading.Thread(target=serve, name="slot-%d" % (n + 1), daemon=True)
                   for n in range(slots)]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():  # a timed join lets the main thread take signals
                thread.join(0.5)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return exit_codes.STOPPED if exit_codes.STOPPED in outcomes else exit_codes.DONE

    def _serve(self, alone: bool) -> int:
        """One render slot: claim, render, report, until nothing is left for it."""
        while True:
            claimed_at = time.monotonic()
            answer = self._claim()
            if answer is None:
                return exit_codes.STOPPED
            if isinstance(answer, ClaimEnded):
                log.info("job %d is %s: no frame left for this agent", self._config.job_id,
                         answer.status)
                return exit_codes.DONE
            if isinstance(answer, ClaimWait):
                if not alone and self._busy_slots:
                    # Another slot of this agent works on: it claims whatever comes back.
                    log.info("every remaining frame is leased; this render slot stops")
                    return exit_codes.DONE
                log.info("every remaining frame is leased elsewhere; asking again in %.0f s",
                         answer.retry_after)
                if self._stop.sleep(answer.retry_after):
                    return exit_codes.STOPPED
                continue
            with self._busy_guard:
                self._busy_slots += 1
            try:
                self._work_on(Lease.from_claim(answer, claimed_at))
            finally:
                with self._busy_guard:
                    self._busy_slots -= 1
            if self._stop.requested:
                log.warning("stopped by %s after handing back the frame", self._stop.signal_name)
                return exit_codes.STOPPED
            if self._config.once:
                return exit_codes.DONE

    def _check_confinement(self) -> None:
        """Ask the kernel once whether it confines a renderer here (confinement.py)."""
        self._unconfinable = confinement.probe()
        if self._unconfinable is None:
            log.info("renderers run confined by the kernel (Landlock)")
        elif self._config.allow_unconfined:
            log.warning("the kernel cannot confine renderers on this node (%s); %s allows "
                        "rendering unconfined", self._unconfinable, self._profile_text())
        else:
            log.error("%s", self._refusal())

    def _profile_text(self) -> str:
        if self._config.cluster is None:
            return "this cluster's profile"
        return "the cluster profile %r" % self._config.cluster

    def _refusal(self) -> str:
        """Why no frame renders here: what the user sees as the reason the job failed."""
        where = ("on cluster %r" % self._config.cluster if self._config.cluster is not None
                 else "on this cluster")
        return ("cannot render %s: node %s cannot confine the renderer (%s), and %s does not "
                "allow rendering unconfined (the worker's profile setting allow_unconfined is "
                "false)" % (where, self._config.holder, self._unconfinable, self._profile_text()))

    def _renderers(self) -> Dict[str, Renderer]:
        """This slot's renderer adapters (they keep per-process state, e.g. progress)."""
        if not hasattr(self._slot, "renderers"):
            renderers: Dict[str, Renderer] = {"povray": PovrayRenderer(self._config.povray)}
            for name, template in self._config.renderer_commands.items():
                renderers[name] = CommandRenderer(name, template)
            self._slot.renderers = renderers
        return self._slot.renderers

    def _claim(self) -> Optional[ClaimAnswer]:
        """Claim, riding out API outages up to --max-api-outage; None if a signal came first."""
        backoff = Backoff(first=0.5, cap=30.0)
        outage_started: Optional[float] = None
        while not self._stop.requested:
            try:
                return self._client.claim(self._config.holder, self._claim_size())
            except LeaseGone as gone:
                # 409 on claim: the job left its active states (failed, done) meanwhile;
                # or the token was revoked: this batch job or the job ended.
                log.info("the API has no frame for this agent any more: %s", gone)
                return ClaimEnded("finished")
            except ApiUnavailable as error:
                now = time.monotonic()
                outage_started = outage_started or now
                if now - outage_started > self._config.max_api_outage:
                    raise ApiOutage("API unreachable for %.0f s: %s" % (now - outage_started, error))
                delay = delay_before_retry(backoff.next_delay(), error.retry_after)
                log.warning("claim failed, retrying in %.1f s: %s", delay, error)
                self._stop.sleep(delay)
        return None

    def _claim_size(self) -> int:
        """The most frames a claim asks for: one with --once, this node's own cap if it has
        one, else as many as the protocol allows, leaving the ceiling to the API's
        max_chunk_frames."""
        if self._config.once:
            return 1
        return self._config.max_chunk_frames or MAX_CLAIM_FRAMES

    def _work_on(self, lease: Lease) -> None:
        self._context.enter_frame(lease.frame, lease.attempt, lease.lease_id)
        try:
            log.info("claimed %s, attempt %d, lease %s for %.0f s", _frames_text(lease.frames),
                     lease.attempt, lease.lease_id, lease.seconds)
            if self._unconfinable is not None and not self._config.allow_unconfined:
                self._cannot_render(lease, self._refusal())
                return
            try:
                renderer = self._renderer_for(lease.job)
                chunk = self._task(lease)
                runs = _runs(lease, renderer,
                             self._config.limits.frames_per_process(chunk.width, chunk.height))
                tasks = [chunk.for_run(run, frames.work_dir_path(
                    self._config.frames_dir, run[0], lease.lease_id)) for run in runs]
                commands = [renderer.command(task) for task in tasks]
            except ValueError as error:
                self._cannot_render(lease, "cannot render: %s" % error)
                return
            if self._config.dry_run:
                for argv in commands:
                    log.info("dry run: would run %s in %s", _shell_words(argv),
                             self._config.input_dir)
                self._release(lease, None, list(lease.frames))
                return
            current: List[RenderProcess] = []
            with LeaseKeeper(self._client, lease.frame, lease.lease_id, lease.seconds,
                             lease.claimed_at, on_lost=lambda: [p.stop() for p in current]
                             ) as keeper:
                for index, (run, task, argv) in enumerate(zip(runs, tasks, commands)):
                    limits = self._config.limits.for_run(len(run), task.threads, task.width,
                                                         task.height)
                    finished = self._render(RenderRun(lease, keeper, renderer, task, argv,
                                                      limits, run), current)
                    if not finished or self._stop.requested:
                        if keeper.lost_reason is None:
                            self._release(lease, keeper, [n for later in runs[index + 1:]
                                                          for n in later])
                        return
        finally:
            self._context.leave_frame()

    def _cannot_render(self, lease: Lease, reason: str) -> None:
        """One attempt counts, on the first frame; the others are not its fault."""
        self._fail(lease, None, lease.frame, reason, "")
        self._release(lease, None, list(lease.frames[1:]))

    def _render(self, run: RenderRun, current: List[RenderProcess]) -> bool:
        """Run the renderer confined and limited (confinement.py) in a work directory of
        its own, which is also its HOME and TMPDIR and holds only the files it is to write:
        nothing an earlier process left, a scene's povray.ini, another job's files or the
        agent's token is within its reach. The frames of the run are delivered from a
        thread of their own as the renderer finishes them (deliveries.py), while it goes on
        with the next. True if every frame of the run was done."""
        task = run.task
        frames.make_work_dir(task.work_dir, run.renderer.output_files(task),
                             run.renderer.discarded_files(task))
        try:
            confined = confinement.wrapped(run.argv, read=[task.input_dir],
                                           write=[task.work_dir], process_limits=run.limits,
                                           allow_unconfined=self._config.allow_unconfined)
            environment = dict(os.environ, HOME=task.work_dir, TMPDIR=task.work_dir)
            for name in [name for name in environment if name.startswith("RAYCRAFTER_")]:
                del environment[name]
            output = ForwardedOutput(self._config.output_lines, self._config.output_bytes)
            run.started_at = time.monotonic()
            deliveries = Deliveries(lambda finished: self._deliver(run, finished))

            def watch(line: str) -> None:
                if run.renderer.starts_frame(line) and run.started < len(run.frames):
                    run.started += 1
                    if run.started > 1:  # the frame before this one is written
                        output.end_frame()
                        run.finish_frame(process.log_tail())
                        process.new_tail()
                        deliveries.finished(run.finished)
                    # What the renderer says from here on is about this frame.
                    self._context.enter_frame(run.frames[run.started - 1],
                                              run.lease.attempt, run.lease.lease_id)
                if run.renderer.show_line(line):
                    output.add(line)

            process = RenderProcess(confined, task.work_dir, self._config.log_tail_lines,
                                    watch, run.limits, environment)
            current[:] = [process]
            log.info("rendering %s: %s", _frames_text(run.frames), _shell_words(run.argv))
            self._stop.call_on_signal(process.stop)
            try:
                with deliveries:
                    result = process.run()
            finally:
                self._stop.call_on_signal(None)
                current[:] = []
            output.end_frame()
            # The keeper keeps heartbeating while the results are checked and reported.
            return self._conclude(run, result)
        finally:
            frames.remove_work_dir(task.work_dir)

    def _conclude(self, run: RenderRun, result: RenderResult) -> bool:
        """After the renderer's end: deliver what it finished, fail the frame it broke
        off, hand the rest back."""
        lease, keeper, renderer = run.lease, run.keeper, run.renderer
        if keeper.lost_reason is not None:
            log.warning("%s abandoned, renderer stopped: %s",
                        _frames_text(run.undelivered), keeper.lost_reason)
            return False
        if result.returncode == 0:
            while run.finished < len(run.frames):  # the last frame, at the renderer's exit
                run.finish_frame(result.log_tail)
        self._deliver(run, run.finished)
        if not run.undelivered:
            return True
        if self._stop.requested and result.returncode != 0:
            log.warning("%s received: renderer stopped, handing %s back",
                        self._stop.signal_name, _frames_text(run.undelivered))
            self._release(lease, keeper, run.undelivered)
            return False
        failed, *rest = run.undelivered
        if result.returncode != 0:
            reason = "%s %s" % (renderer.name, _exit_description(result.returncode))
            detail = result.limit_reason or renderer.failure_detail(result.log_tail)
            reason += ": " + detail if detail else ""
        else:
            reason = "%s exited cleanly but wrote no image for it" % renderer.name
        self._fail(lease, keeper, failed, reason, result.log_tail)
        self._release(lease, keeper, rest)
        return False

    def _deliver(self, run: RenderRun, finished: int) -> None:
        """Deliver the run's first ``finished`` frames that are not delivered yet, together:
        check each image, ask the API once whether the lease still holds them, put the good
        ones into place, and report them all (a frame not placed is not reported).

        One question serves them all, asked through the first of them: the frames of a
        lease that are not reported yet leave it only together (its expiry, the end of its
        batch job, the job's end) or by the agent's own report, so a lease that still holds
        one of them holds them all."""
        images = run.renderer.output_files(run.task)
        placeable: List[Tuple[int, frames.CheckedImage, FrameDone]] = []
        broken: List[FrameFailed] = []
        while run.delivered < finished and run.keeper.lost_reason is None \
                and frames.written(images[run.delivered]):
            index, number = run.delivered, run.frames[run.delivered]
            run.delivered += 1
            try:
                checked = frames.check(images[index], run.task.width, run.task.height)
            except frames.BadImage as error:
                log.error("frame %d failed: %s", number, error)
                broken.append(FrameFailed(number, str(error), run.log_tails[index]))
                continue
            placeable.append((number, checked, FrameDone(
                number, round(run.render_seconds(index), 3), checked.checksum, checked.size,
                run.log_tails[index])))
        if placeable and not run.keeper.confirm(placeable[0][0]):
            numbers = [number for number, _, _ in placeable]
            log.warning("%s %s not placed nor reported: the lease no longer holds %s (%s)",
                        _frames_text(numbers), "is" if len(numbers) == 1 else "are",
                        "it" if len(numbers) == 1 else "them", run.keeper.lost_reason)
            return
        for number, checked, done in placeable:
            self._about(run.lease, number)
            path = frames.place(checked, self._config.frames_dir, number)
            log.info("frame %d rendered in %.1f s: %s, %d bytes, sha256 %s", number,
                     done.render_seconds, path, checked.size, checked.checksum)
        self._report_frames(run.lease, run.keeper, [done for _, _, done in placeable], broken)

    def _about(self, lease: Lease, number: int) -> None:
        """What is logged from here on in this thread is about frame ``number``."""
        self._context.enter_frame(number, lease.attempt, lease.lease_id)

    def _fail(self, lease: Lease, keeper: Optional[LeaseKeeper], number: int, reason: str,
              log_tail: str) -> None:
        log.error("frame %d failed: %s", number, reason)
        self._report_frames(lease, keeper, [], [FrameFailed(number, reason, log_tail)])

    def _report_frames(self, lease: Lease, keeper: Optional[LeaseKeeper],
                       done: List[FrameDone], failed: List[FrameFailed]) -> None:
        """Report rendered and failed frames of the lease: in one call to an API that
        takes several (agent protocol 2), else in a call each. Retried through an outage
        for as long as the lease holds: past that the API hands the frames to someone else
        anyway, and a report carrying the old lease id would be refused."""
        keeps = _keeps(lease, keeper)
        if lease.protocol >= 2 and len(done) + len(failed) > 1:
            outcomes = self._retried("report of %s" % _frames_text(
                [entry.frame for entry in done + failed]), keeps,
                lambda: self._client.report(lease.lease_id, done, failed))
            for outcome in outcomes or ():
                what = "completion" if outcome.frame in {entry.frame for entry in done} \
                    else "failure"
                self._about(lease, outcome.frame)
                if outcome.refused is not None:
                    log.warning("the API refused the %s of frame %d: %s: %s", what,
                                outcome.frame, outcome.refused.error, outcome.refused.message)
                else:
                    log.info("%s of frame %d recorded, frame is %s", what, outcome.frame,
                             outcome.frame_state)
            return
        for entry in done:
            self._report_one(keeps, "completion", entry.frame, lambda: self._client.complete(
                entry.frame, lease.lease_id, entry.render_seconds, entry.checksum, entry.size,
                entry.log_tail or ""))
        for failure in failed:
            self._report_one(keeps, "failure", failure.frame, lambda: self._client.fail(
                failure.frame, lease.lease_id, failure.reason, failure.log_tail or ""))

    def _report_one(self, keeps: Callable[[], float], what: str, number: int,
                    call: Callable[[], Any]) -> None:
        answer = self._retried("%s of frame %d" % (what, number), keeps, call)
        if answer is not None:
            log.info("%s of frame %d recorded, frame is %s", what, number, answer.frame_state)

    def _retried(self, what: str, keeps: Callable[[], float],
                 call: Callable[[], Answer]) -> Optional[Answer]:
        """``call``'s answer, retrying through an outage while ``keeps()`` (the seconds
        left to try) is positive; None if the API refused it (409) or time ran out."""
        backoff = Backoff(first=0.5, cap=30.0)
        while True:
            try:
                return call()
            except LeaseGone as gone:
                log.warning("the API refused the %s: %s", what, gone)
                return None
            except ApiUnavailable as error:
                left = keeps()
                if left <= 0:
                    log.error("could not report the %s while its lease held; the API will "
                              "hand it out again: %s", what, error)
                    return None
                delay = delay_before_retry(backoff.next_delay(), error.retry_after, latest=left)
                log.warning("reporting the %s failed, keeping the result and retrying in "
                            "%.1f s: %s", what, delay, error)
                time.sleep(delay)

    def _release(self, lease: Lease, keeper: Optional[LeaseKeeper], numbers: List[int]) -> None:
        """Hand frames back so they are rendered elsewhere at once, not after lease expiry:
        all in one call to an API of protocol 2. Tried for RELEASE_PATIENCE_SECONDS while
        the lease holds; after that the frames come back when the lease expires."""
        if not numbers:
            return
        give_up_at = time.monotonic() + RELEASE_PATIENCE_SECONDS

        def patience() -> float:
            if keeper is not None and not keeper.holds:
                return 0.0
            return give_up_at - time.monotonic()

        if lease.protocol >= 2 and len(numbers) > 1:
            outcomes = self._retried("release of %s" % _frames_text(numbers), patience,
                                     lambda: self._client.report(lease.lease_id,
                                                                 released=numbers))
            for outcome in outcomes or ():
                if outcome.refused is None:
                    log.info("frame %d handed back to the API", outcome.frame)
                else:
                    log.info("frame %d was no longer ours to hand back: %s", outcome.frame,
                             outcome.refused.error)
            return
        for number in numbers:
            if self._retried("release of frame %d" % number, patience,
                             lambda: self._client.release(number, lease.lease_id)) is not None:
                log.info("frame %d handed back to the API", number)

    def _renderer_for(self, job: AgentJob) -> Renderer:
        name = job.renderer
        renderers = self._renderers()
        if name not in renderers:
            raise ValueError("renderer %r is not available on this cluster (known: %s)"
                             % (name, ", ".join(sorted(renderers))))
        return renderers[name]

    def _task(self, lease: Lease) -> FrameTask:
        """The chunk's parameters from the claim answer, each checked before it reaches
        a command line; each run of it is rendered in a work directory of its own."""
        job, chunk = lease.job, lease.frames
        first, last = job.frames.first, job.frames.last
        width, height = job.width, job.height
        if not first <= chunk[0] <= chunk[-1] <= last:
            raise ValueError("%s outside the job's range %d..%d" % (_frames_text(chunk), first, last))
        if not (0 < width <= MAX_IMAGE_SIDE and 0 < height <= MAX_IMAGE_SIDE):
            raise ValueError("resolution %dx%d is out of range" % (width, height))
        return FrameTask(
            frame=chunk[0], last_frame=chunk[-1], first=first, last=last,
            animation=_animation(job),
            width=width, height=height, options=dict(job.options),
            scene_path=frames.scene_path(self._config.input_dir, job.scene_file),
            input_dir=self._config.input_dir, work_dir="", threads=self._config.threads)


def _keeps(lease: Lease, keeper: Optional[LeaseKeeper]) -> Callable[[], float]:
    """How long the lease surely holds: the keeper's reckoning, else from the claim."""
    if keeper is not None:
        return lambda: keeper.seconds_left
    return lambda: lease.claimed_at + lease.seconds - time.monotonic()


def _runs(lease: Lease, renderer: Renderer, most: int) -> List[List[int]]:
    """The chunk in runs of frames for one renderer process each: runs of up to ``most``
    frames (what its work directory's cap allows) where the renderer renders a range of
    the animation in one go and the frames are consecutive, else one frame each."""
    if renderer.renders_runs and lease.job.frames.step == 1:
        return [list(lease.frames[start:start + most])
                for start in range(0, len(lease.frames), most)]
    return [[number] for number in lease.frames]


def _frames_text(numbers: Sequence[int]) -> str:
    if len(numbers) == 1:
        return "frame %d" % numbers[0]
    return "frames %d-%d" % (numbers[0], numbers[-1])


def _animation(job: AgentJob) -> Animation:
    """The job's animation; an API from before animations renders the frames asked for as
    the whole animation."""
    if job.animation is None:
        return Animation(job.frames.first, job.frames.last).check()
    try:
        return job.animation.check()
    except ValueError as error:
        raise ValueError("the job's animation is unusable: %s" % error) from None


def _exit_description(returncode: Optional[int]) -> str:
    if returncode is None:
        return "could not be started"
    if returncode < 0:
        return "was killed by signal %d" % -returncode
    return "exited with status %d" % returncode


def _shell_words(argv: List[str]) -> str:
    """The command as one would type it, for logs only; it is never run through a shell."""
    return shlex.join(argv)
