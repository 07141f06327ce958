"""A report of many frames larger than the API reads goes in parts, each below the limit,
every frame once and in order."""
import json

from raycrafter_contract.wire.agent_calls import (FrameDone, FrameOutcome, LeaseReports,
                                                  LeaseReportsAnswer)
from raycrafter_contract.wire.endpoints import MAX_JSON_BODY_BYTES

from raycrafter_nodeagent.api_client import ApiClient


def test_a_report_larger_than_the_api_reads_goes_in_parts():
    client = ApiClient("https://api.example", 7, "t" * 43, None, 10.0)
    sent = []

    def post(path, body, answer):
        sent.append(body)
        frames = [entry.frame for entry in body.done] + list(body.released)
        return LeaseReportsAnswer(tuple(FrameOutcome(n, "done") for n in frames))

    client._post = post
    # Log tails of control characters: JSON writes each as six bytes.
    done = [FrameDone(n, 1.0, "0" * 64, 100, "\x01" * 16384) for n in range(1, 61)]
    outcomes = client.report("l-1", done, released=[61, 62])
    assert [outcome.frame for outcome in outcomes] == list(range(1, 63))
    assert len(sent) > 1 and all(isinstance(part, LeaseReports) for part in sent)
    assert all(len(json.dumps(part.to_json())) <= MAX_JSON_BODY_BYTES for part in sent)
    assert [n for part in sent
            for n in [entry.frame for entry in part.done] + list(part.released)] == \
        list(range(1, 63))
