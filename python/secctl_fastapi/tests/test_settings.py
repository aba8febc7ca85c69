"""The settings file is refused loudly when it is bad or belongs to another service."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from secctl_fastapi import SettingsError, load_settings

from .conftest import BASE_SETTINGS, write_settings


def doc() -> dict[str, Any]:
    return copy.deepcopy(BASE_SETTINGS)


def test_valid_file_loads_and_matches_longest_route(tmp_path: Path) -> None:
    s = load_settings(write_settings(tmp_path, doc()), service="backend")
    assert s.route_for("/api/admin/users").path == "/api/admin/"
    assert s.route_for("/api/items").path == "/api/"
    assert s.route_for("/healthz").path == "/healthz"
    assert s.route_for("/healthz/x") is None, "exact routes match only themselves"
    assert s.route_for("/nope") is None


@pytest.mark.parametrize(
    "mutate, needle",
    [
        (lambda d: d.update(version=2), "version 2 is not supported"),
        (lambda d: d.update(surprise=1), "surprise"),
        (lambda d: d["routes"][0].update(per_usr={}), "routes.0.per_usr"),
        (lambda d: d["redis"].update(port="6379"), "redis.port"),
        (lambda d: d["jwt"].update(algorithms=["none"]), "jwt.algorithms"),
        (lambda d: d["jwt"].update(algorithms=["HS256"]), "jwt.algorithms"),
        (lambda d: d["cors"].update(origins=["*"]), "cors.origins"),
        (lambda d: d.update(tenancy=None), "tenant_scoped"),
        (lambda d: d["redis"].update(key_prefix="ratelimit:ai:"), "key_prefix"),
        (lambda d: d["routes"][0].update(azp=[]), "allows no `azp`"),
        (lambda d: d["routes"].append(copy.deepcopy(d["routes"][0])), "appears twice"),
    ],
)
def test_bad_files_are_refused_with_the_path(tmp_path: Path, mutate: Any, needle: str) -> None:
    d = doc()
    mutate(d)
    p = write_settings(tmp_path, d)
    with pytest.raises(SettingsError) as e:
        load_settings(p, service="backend")
    assert str(p) in str(e.value)
    assert needle in str(e.value)


def test_service_mismatch_is_refused(tmp_path: Path) -> None:
    p = write_settings(tmp_path, doc())
    with pytest.raises(SettingsError, match="for service `backend`, not `ai`"):
        load_settings(p, service="ai")


def test_missing_and_non_json_files(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"{not json")
    with pytest.raises(SettingsError, match="not valid JSON"):
        load_settings(bad)
    bad.write_text(json.dumps([1, 2]))
    with pytest.raises(SettingsError, match="invalid secctl kit settings"):
        load_settings(bad)


REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("service", ["backend", "ai"])
def test_the_committed_render_is_accepted(service: str) -> None:
    """`generated/kit/*.json` (what `secctl render` writes for policies/reference.yaml, checked by
    the golden test) is valid for this kit: the Rust and Python sides agree on the format."""
    s = load_settings(REPO / "generated" / "kit" / f"{service}.json", service=service)
    assert s.version == 1 and s.redis is not None and s.redis.key_prefix == f"ratelimit:{service}:"
    assert all(r.azp for r in s.routes if r.auth)
    if service == "ai":
        assert [r.rate_limit.redis_down for r in s.routes] == ["closed"]
    else:
        assert s.route_for("/internal/job-results").callers == ("worker",)
        assert s.cors is not None and "X-Tenant-ID" in s.cors.headers


def test_the_shim_keeps_the_old_import_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(REPO / "generated" / "backend"))
    import secctl_security  # type: ignore[import-not-found]

    from secctl_fastapi import current_principal

    assert secctl_security.authorize is current_principal
