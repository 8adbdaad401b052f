"""Socrata's write API as agencies' scripts call it, through sodapy: replace (PUT) and upsert
(POST) with JSON rows and a CSV file, `:deleted` rows, and a bad value. Prints one JSON line per
call, `{"call": ..., "response": ...}` or `{"call": ..., "error": ...}`, for the Rust scenario
(tests/scenarios/write_api.rs) to check.

Usage: soda_write.py HOST:PORT KEY DATASET CSV_FILE
"""

import json
import sys

import requests
from sodapy import Socrata


def main():
    host, key, dataset, csv_file = sys.argv[1:5]
    # Basic authentication with the API key as the password, over plain HTTP (the test's edge).
    client = Socrata(
        host,
        None,
        username="pipeline",
        password=key,
        session_adapter={"prefix": "http://", "adapter": requests.adapters.HTTPAdapter()},
    )

    def call(name, action):
        try:
            print(json.dumps({"call": name, "response": action()}), flush=True)
        except requests.exceptions.HTTPError as error:
            print(json.dumps({"call": name, "error": str(error)}), flush=True)

    call("replace", lambda: client.replace(dataset, [
        {"town": "Avon", "amount": "1"},
        {"town": "Bristol", "amount": 2},
        {"town": "Canton", "amount": "3"},
    ]))
    call("upsert", lambda: client.upsert(dataset, [
        {"town": "Bristol", "amount": "20"},
        {"town": "Darien", "amount": 4.5},
        {"town": "Canton", ":deleted": True},
    ]))
    with open(csv_file, "rb") as rows:
        call("upsert csv", lambda: client.upsert(dataset, rows, content_type="csv"))
    call("bad value", lambda: client.upsert(dataset, [{"town": "Enfield", "amount": "many"}]))
    call("read", lambda: client.get(dataset, order="town"))


if __name__ == "__main__":
    main()
