"""The dashboard in a real browser (Debian's headless Chromium) against the real API: a
user signs in, submits a scene, watches POV-Ray's frames appear as thumbnails, plays the
animation, reads a frame's log and cancels two jobs at once; an admin creates a token.
Each check is on what the API made, not on what the page says of itself."""
import io
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageChops
from raycrafter_contract.naming import frame_file_name
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from support.api_server import stored
from support.api_testing import Client, sha256, submit_as_worker

REPOSITORY = Path(__file__).resolve().parents[2]
SCENE = REPOSITORY / "tests" / "nodeagent" / "scenes" / "sphere.pov"
FRAMES = (1, 2, 3)


def wait(browser, condition, timeout=60):
    return WebDriverWait(browser, timeout, poll_frequency=0.2).until(lambda _: condition())


def sign_in(browser, api_server, token):
    browser.get(api_server.base + "/dashboard/")
    field = wait(browser, lambda: browser.find_element(By.ID, "token").is_displayed()
                 and browser.find_element(By.ID, "token"))
    field.send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "#sign-in-form button").click()
    wait(browser, lambda: browser.find_element(By.ID, "nav").is_displayed())


def listed(browser):
    """{job id: state} of the rows the job list shows, read at one moment by the page (the
    list is redrawn as polls answer)."""
    return {int(job_id): job_state for job_id, job_state in browser.execute_script(
        "return [...document.querySelectorAll('#jobs-table tbody tr')]"
        ".map((tr) => [tr.dataset.jobId, tr.dataset.state])")}


def render_with_the_node_agent(tmp_path, api_server, worker, job_id):
    """What the worker and a batch job do: submit, run the real node agent with POV-Ray
    on the job's scratch directory, then upload each rendered frame's image."""
    agent_token = submit_as_worker(worker, job_id, "4242")
    job_dir = tmp_path / "scratch" / str(job_id)
    for part in ("input", "frames", "logs"):
        (job_dir / part).mkdir(parents=True)
    scene_file = worker.get(f"/worker/jobs/{job_id}").json()["scene_file"]
    (job_dir / "input" / scene_file).write_bytes(worker.get(f"/worker/jobs/{job_id}/input").content)
    descriptor = os.open(job_dir / "agent.token", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(agent_token + "\n")
    agent = subprocess.run(
        [sys.executable, "-m", "raycrafter_nodeagent", "--api-url", api_server.base,
         "--job-id", str(job_id), "--job-dir", str(job_dir), "--holder", "nid001",
         "--threads", "1", "--slots", "1"],
        env=dict(os.environ, SLURM_JOB_ID="4242"), capture_output=True, text=True, timeout=300)
    assert agent.returncode == 0, agent.stdout + agent.stderr
    images = {}
    for number in FRAMES:
        image = (job_dir / "frames" / frame_file_name(number)).read_bytes()
        response = worker.put(f"/worker/jobs/{job_id}/frames/{number}/image", data=image,
                              headers={"Content-Type": "image/png",
                                       "X-Checksum-Sha256": sha256(image)})
        assert response.status_code == 201, response.text
        images[number] = image
    return images


def mean_difference(one, other):
    """The mean difference of two images' pixels, per channel, 0-255."""
    histogram = ImageChops.difference(one, other).histogram()
    total = sum(value * count for channel in range(3)
                for value, count in enumerate(histogram[channel * 256:(channel + 1) * 256]))
    return total / (one.width * one.height * 3)


def test_a_user_submits_watches_frames_appear_plays_and_reads_a_log(
        browser, api_server, tokens, tmp_path, screenshots):
    user = Client(api_server.url, tokens["alice"])
    worker = Client(api_server.url, tokens["worker"])
    sign_in(browser, api_server, tokens["alice"])

    browser.get(api_server.base + "/dashboard/#/submit")
    form = wait(browser, lambda: browser.find_element(By.ID, "submit-form").is_displayed()
                and browser.find_element(By.ID, "submit-form"))
    form.find_element(By.NAME, "scene").send_keys(str(SCENE))
    form.find_element(By.NAME, "name").send_keys("orbiting sphere")
    form.find_element(By.NAME, "frames").send_keys("1-3")
    form.find_element(By.NAME, "width").send_keys("480")
    form.find_element(By.NAME, "height").send_keys("360")
    form.find_element(By.NAME, "notify_email").send_keys("alice@lab.example")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(browser, lambda: browser.current_url.split("#/jobs/")[-1].isdigit())
    job_id = int(browser.current_url.split("#/jobs/")[-1])
    assert stored(api_server.config_path, job_id, "notify_email") == ("alice@lab.example",)

    job = user.get(f"/jobs/{job_id}").json()
    assert (job["name"], job["frames"]["count"], job["width"]) == ("orbiting sphere", 3, 480)
    wait(browser, lambda: f"Job {job_id}: orbiting sphere"
         in browser.find_element(By.ID, "job-title").text)

    images = render_with_the_node_agent(tmp_path, api_server, worker, job_id)
    tiles = wait(browser, lambda: len(browser.find_elements(By.CSS_SELECTOR, "#thumbnails img"))
                 == len(FRAMES) and browser.find_elements(By.CSS_SELECTOR, "#thumbnails img"))

    def loaded():
        return {int(tile.find_element(By.XPATH, "..").get_attribute("data-frame")):
                browser.execute_script("return [arguments[0].complete, arguments[0].naturalWidth,"
                                       " arguments[0].naturalHeight]", tile) for tile in tiles}
    wait(browser, lambda: loaded() == {number: [True, 320, 240] for number in FRAMES})
    rendered = {number: Image.open(io.BytesIO(image)).convert("RGB").resize(
        (320, 240), Image.Resampling.LANCZOS) for number, image in images.items()}
    for number in FRAMES:
        thumbnail = Image.open(io.BytesIO(
            user.get(f"/jobs/{job_id}/frames/{number}/thumbnail").content)).convert("RGB")
        # Each thumbnail is its own frame made smaller, and nearer to it than to any other
        # (the clock moves the scene from frame to frame).
        differences = {other: mean_difference(thumbnail, image)
                       for other, image in rendered.items()}
        assert differences[number] < 2, differences
        assert min(differences, key=differences.get) == number, differences

    browser.find_element(By.ID, "job-play").click()
    shown = set()
    wait(browser, lambda: shown.add(browser.find_element(By.ID, "player-image")
                                    .get_attribute("data-frame")) or len(shown) == len(FRAMES),
         timeout=20)
    browser.find_element(By.ID, "job-play").click()

    browser.find_element(By.CSS_SELECTOR, '#thumbnails [data-frame="2"]').click()
    log = user.get(f"/jobs/{job_id}/frames/2/log").text
    assert log.strip()
    wait(browser, lambda: browser.find_element(By.ID, "frame-log").text.strip() == log.strip())
    wait(browser, lambda: "completed" in browser.find_element(By.ID, "events-table").text
         or "done" in browser.find_element(By.ID, "events-table").text)
    browser.save_screenshot(str(screenshots / "job.png"))


def test_two_jobs_cancelled_at_once_and_the_list_filtered(browser, api_server, tokens, screenshots):
    user = Client(api_server.url, tokens["alice"])
    ids = [user.post("/jobs", files={"scene": ("scene.pov", SCENE.read_bytes())},
                     data={"name": f"to cancel {n}", "frames": "1-2"}).json()["id"]
           for n in range(3)]
    sign_in(browser, api_server, tokens["alice"])
    wait(browser, lambda: set(ids) <= set(listed(browser)))
    for job_id in ids[:2]:
        browser.find_element(By.CSS_SELECTOR, f'#jobs-table input[value="{job_id}"]').click()
    browser.find_element(By.ID, "cancel-selected").click()
    wait(browser, lambda: all(listed(browser).get(job_id) == "cancelled" for job_id in ids[:2]))
    browser.save_screenshot(str(screenshots / "jobs.png"))
    states = [user.get(f"/jobs/{job_id}").json()["state"] for job_id in ids]
    assert states == ["cancelled", "cancelled", "pending"]

    Select(browser.find_element(By.ID, "filter-state")).select_by_visible_text("cancelled")
    wait(browser, lambda: set(listed(browser)) >= set(ids[:2]) and ids[2] not in listed(browser))
    Select(browser.find_element(By.ID, "filter-state")).select_by_visible_text("any")
    browser.find_element(By.ID, "filter-name").send_keys("CANCEL 2")
    wait(browser, lambda: list(listed(browser)) == [ids[2]])


def test_an_admin_creates_a_token_that_signs_its_user_in_and_revokes_it(browser, api_server, tokens,
                                                         screenshots):
    sign_in(browser, api_server, tokens["root"])
    browser.get(api_server.base + "/dashboard/#/admin")
    row = wait(browser, lambda: next(
        (tr for tr in browser.find_elements(By.CSS_SELECTOR, "#users-table tbody tr")
         if tr.find_elements(By.TAG_NAME, "td")[1].text == "alice"), None))
    row.find_element(By.TAG_NAME, "button").click()
    shown = wait(browser, lambda: browser.find_element(By.ID, "new-token").text)
    token = shown.rsplit(": ", 1)[1]
    browser.save_screenshot(str(screenshots / "admin.png"))
    assert Client(api_server.url, token).get("/me").json() == {"name": "alice", "role": "user"}
    assert token != tokens["alice"]

    # The new token, named by its prefix in the tokens table, revoked there.
    revoke = wait(browser, lambda: next(
        (tr.find_element(By.TAG_NAME, "button")
         for tr in browser.find_elements(By.CSS_SELECTOR, "#tokens-table tbody tr")
         if tr.find_elements(By.TAG_NAME, "td")[2].text == token[:8]), None))
    revoke.click()
    wait(browser, lambda: Client(api_server.url, token).get("/me").status_code == 401)
    assert Client(api_server.url, tokens["alice"]).get("/me").status_code == 200
