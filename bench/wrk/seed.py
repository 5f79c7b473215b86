#!/usr/bin/env python3
"""Seeds sessions for a wrk run and, optionally, a baseline with the service's exact answers.

Creates --sessions token sessions (browser sessions with --cookie), --per-identity per identity, through the admin
API, asks the service's whoami for each once (the bytes the baseline must answer with), posts them to the baseline's
/seed, and writes the credentials, one per line, to --out (mode 0600; keep it in /tmp and delete it after the run): tokens, or with --cookie whole cookies
("ory_kratos_session=..."). tokens.lua reads that file. No credential is ever printed.
"""
import argparse, base64, json, os, sys, urllib.request, uuid
from concurrent.futures import ThreadPoolExecutor


def call(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read(), response.headers


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin", default="http://127.0.0.1:4434", help="admin URL of the service")
    parser.add_argument("--target", default="http://127.0.0.1:4433", help="public URL of the service")
    parser.add_argument("--baseline", help="baseline URL to seed with the service's answers")
    parser.add_argument("--sessions", type=int, default=10000)
    parser.add_argument("--per-identity", type=int, default=1)
    parser.add_argument("--cookie", action="store_true", help="browser sessions; the file holds cookies")
    parser.add_argument("--parallelism", type=int, default=16)
    parser.add_argument("--out", required=True, help="token file to write (0600)")
    args = parser.parse_args()
    key = os.environ.get("BENCH_ADMIN_KEY")
    auth = {"Authorization": f"Bearer {key}"} if key else {}
    run = uuid.uuid4().hex[:8]

    def identity(i):
        body, _ = call("POST", f"{args.admin}/admin/identities",
                       {"schema_id": "default", "traits": {"email": f"wrk-{run}-{i}@example.com"}}, auth)
        identity_id = json.loads(body)["id"]
        entries = []
        for _ in range(args.per_identity):
            body, _ = call("POST", f"{args.admin}/admin/identities/{identity_id}/sessions",
                           {"channel": "browser" if args.cookie else "api"}, auth)
            issued = json.loads(body)
            if args.cookie:
                name, value = issued["session_cookie"]["name"], issued["session_cookie"]["value"]
                line, header = f"{name}={value}", {"Cookie": f"{name}={value}"}
            else:
                value = line = issued["session_token"]
                header = {"X-Session-Token": value}
            answer, headers = call("GET", f"{args.target}/sessions/whoami", headers=header)
            entries.append({"credential": value, "cookie": args.cookie, "identity_id": headers["X-Kratos-Authenticated-Identity-Id"],
                            "body": base64.b64encode(answer).decode(), "line": line})
        return entries

    identities = (args.sessions + args.per_identity - 1) // args.per_identity
    with ThreadPoolExecutor(args.parallelism) as pool:
        entries = [e for batch in pool.map(identity, range(identities)) for e in batch][: args.sessions]
    if args.baseline:
        for start in range(0, len(entries), 1000):
            call("POST", f"{args.baseline}/seed", [{k: v for k, v in e.items() if k != "line"} for e in entries[start:start + 1000]])
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.writelines(e["line"] + "\n" for e in entries)
    print(f"{len(entries)} sessions seeded{' (and the baseline)' if args.baseline else ''}; tokens in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
