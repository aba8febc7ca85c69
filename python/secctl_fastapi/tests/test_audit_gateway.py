"""Real nginx 1.22 + ModSecurity: the rendered JSON access-log format and `modsecurity_transaction_id`
let one query on the request id return the nginx line and the WAF entry, with no secret in the store."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from audit_support import REPO, Worker, audit_redis_server, audit_store, free_port, unshipped, wait_until, worker_config  # noqa: F401

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.Z2F0ZXdheS1zaWduYXR1cmU"
COOKIE = f"gw-cookie-{uuid.uuid4().hex[:8]}"
QUERY_TOKEN = f"gw-query-{uuid.uuid4().hex[:8]}"


def _log_format() -> str:
    """The `log_format secctl ...;` statement exactly as `secctl render` wrote it into the golden tree."""
    conf = (REPO / "generated" / "nginx" / "nginx.conf").read_text()
    m = re.search(r"^\s*(log_format secctl escape=json .*?';)$", conf, re.MULTILINE | re.DOTALL)
    assert m, "generated/nginx/nginx.conf has no secctl log_format"
    assert '"msec":"$msec"' in m.group(1) and '"request_id":"$request_id"' in m.group(1)
    assert 'modsecurity_transaction_id "$request_id";' in conf
    return m.group(1)


@pytest.fixture
def gateway(tmp_path: Path):
    if shutil.which("nginx") is None or not Path("/usr/lib/nginx/modules/ngx_http_modsecurity_module.so").exists():
        pytest.fail("nginx with libnginx-mod-http-modsecurity is not installed: run scripts/setup.sh")
    d = tmp_path / "gw"
    (d / "www").mkdir(parents=True)
    (d / "www" / "index.html").write_text("ok\n")
    (d / "modsec.conf").write_text(f"""SecRuleEngine On
SecRequestBodyAccess On
SecAuditEngine RelevantOnly
SecAuditLogRelevantStatus "^(?:5|4(?!04))"
SecAuditLogParts ABIJDEFHZ
SecAuditLogType Serial
SecAuditLogFormat JSON
SecAuditLog {d}/modsec-audit.json
SecRule ARGS "@rx (?i)union\\s+select" "id:20001,phase:2,deny,status:403,log,msg:'SQL injection (test rule)'"
""")
    port = free_port()
    (d / "nginx.conf").write_text(f"""load_module /usr/lib/nginx/modules/ngx_http_modsecurity_module.so;
daemon off;
master_process off;
worker_processes 1;
error_log {d}/error.log warn;
pid {d}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    {_log_format()}
    map $ssl_client_s_dn $mtls_identity {{ default ""; }}
    access_log {d}/nginx-access.json secctl;
    client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
    uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
    modsecurity on;
    modsecurity_rules_file {d}/modsec.conf;
    modsecurity_transaction_id "$request_id";
    server {{
        listen 127.0.0.1:{port};
        server_name api.acme.example;
        location / {{ root {d}/www; }}
    }}
}}
""")
    t = subprocess.run(["nginx", "-t", "-c", str(d / "nginx.conf"), "-p", str(d)], capture_output=True, text=True)
    assert t.returncode == 0, t.stderr
    proc = subprocess.Popen(["nginx", "-c", str(d / "nginx.conf"), "-p", str(d)], stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(base + "/index.html", headers={"Host": "api.acme.example"}, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, 10, "nginx")
    yield base, d
    proc.terminate()
    proc.wait(10)


def test_one_query_on_the_request_id_joins_nginx_and_modsecurity(tmp_path, gateway, audit_redis_server, audit_store):
    base, d = gateway
    r = httpx.get(base + "/index.html", params={"id": "1 UNION SELECT password FROM users", "access_token": QUERY_TOKEN},
                  headers={"Host": "api.acme.example", "Authorization": f"Bearer {TOKEN}", "Cookie": f"session={COOKIE}"})
    assert r.status_code == 403  # refused by the WAF rule, not by anything else
    assert TOKEN in (d / "modsec-audit.json").read_text(), "ModSecurity logs the raw token: the tailer must redact it"
    line = [ln for ln in (d / "nginx-access.json").read_text().splitlines() if '"status":403' in ln][-1]
    rid = re.search(r'"request_id":"([0-9a-f]{32})"', line).group(1)
    cfg = worker_config(tmp_path / "w.json", audit_redis_server, audit_store, "loki",
                        gateway={"nginx_access_log": str(d / "nginx-access.json"), "modsec_audit_log": str(d / "modsec-audit.json")})
    w = Worker(cfg, tmp_path / "worker.log")
    try:
        rows = wait_until(lambda: (lambda q: q if len(q) == 2 else None)(audit_store.query(f'request_id:"{rid}"')), 15,
                          "the nginx and ModSecurity records of the blocked request")
        by = {x["source"]: x for x in rows}
        assert by["nginx"]["event"] == "gateway.denied" and by["nginx"]["status"] == "403"
        assert by["modsecurity"]["event"] == "waf.block" and by["modsecurity"]["waf_rule_ids"] == "20001"
        assert by["modsecurity"]["source_ip"] == "127.0.0.1"
        # nginx's $msec gives millisecond time; ModSecurity's own stamp has seconds only.
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$", by["nginx"]["_time"])
        wait_until(lambda: unshipped(audit_redis_server.client(), ["audit:gateway"]) == 0, 20, "acked")
        dump = audit_store.dump()
        for s in (TOKEN, "eyJhbGciOiJSUzI1NiJ9", COOKIE, QUERY_TOKEN):
            assert s not in dump, f"{s!r} reached the store"
    finally:
        assert w.stop() == 0
