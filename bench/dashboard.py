"""Dashboard benchmark in a real browser (Debian chromium, SwiftShader WebGL, headless).

Starts a platform with its simulators and the dashboard contract-fixture scene (tests/web), then
measures on loopback:
  1. time to first full render: navigation start -> panels, headline figures, alerts and map loaded;
  2. event -> on-screen latency: POST one event, wait until the headline figure it changes shows
     the new number (live feed -> generic panel refresh -> DOM), p50/p95;
  3. frame time with N moving vehicles (default 10,000): no vehicle scene ships yet, so the vehicles
     are fed synthetically into the page's own data path (the same inbox WebSocket messages go
     through), each moving once a second in four coalesced chunks;
  4. page memory over a bounded run with those updates going on (JS heap after a forced GC, via
     CDP), with its trend in MB/min. The issue asks for 30 minutes: pass --memory-seconds 1800.

    .venv/bin/python bench/dashboard.py [--vehicles 10000] [--frames-seconds 20] [--memory-seconds 180]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "web"))

import platform_server
import scene_fixture

from conftest import CHROMIUM, CHROMIUM_ARGS

FULL_RENDER = """() => {
  if (document.body.dataset.ready !== '1') return false;
  const figs = [...document.querySelectorAll('.widget.figure .value, .headline .fig .value')];
  const charts = [...document.querySelectorAll('.widget.chart .plot')];
  return figs.every((f) => f.textContent !== '—') && charts.every((c) => c.querySelector('canvas'))
    && window.citybrain.layers.get('fleet.vehicles').features.size > 0 && window.citybrain.getMap().loaded();
}"""

# Synthetic vehicles through the page's data path: window.citybrain.feed(topic, rows).
FEED = """([n, topic]) => {
  const rnd = (a, b) => a + Math.random() * (b - a);
  const cars = Array.from({length: n}, (_, i) => ({key: `SYN${i}`,
    lon: rnd(115.78, 116.0), lat: rnd(28.6, 28.76),
    heading: rnd(0, 360), speed: rnd(5, 60), vtype: ['bus', 'taxi', 'nev'][i % 3]}));
  let part = 0;
  window.__feed = setInterval(() => {
    const rows = [];
    const ts = Date.now();
    for (let i = part; i < n; i += 4) {
      const c = cars[i];
      const d = c.speed / 3.6 / 111000;  // one second of travel, in degrees
      c.lon += d * Math.sin(c.heading * Math.PI / 180);
      c.lat += d * Math.cos(c.heading * Math.PI / 180);
      if (Math.random() < 0.05) c.heading = (c.heading + rnd(-30, 30) + 360) % 360;
      const data = {lon: c.lon, lat: c.lat, heading: c.heading, speed: c.speed, vtype: c.vtype};
      rows.push({key: c.key, ts, data});
    }
    part = (part + 1) % 4;
    window.citybrain.feed(topic, rows);
  }, 250);
}"""

FRAMES = """(ms) => new Promise((resolve) => {
  const out = [];
  let last = performance.now();
  const end = last + ms;
  const step = (now) => {
    out.push(now - last);
    last = now;
    if (now < end) requestAnimationFrame(step); else resolve(out);
  };
  requestAnimationFrame(step);
})"""


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def first_render(browser: Any, run: platform_server.Running, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
        ctx.add_init_script(f"sessionStorage.setItem('citybrain.token', {run.tokens['read']!r})")
        page = ctx.new_page()
        page.goto(run.url + "/")
        page.wait_for_function(FULL_RENDER, timeout=30_000, polling=16)
        out.append(page.evaluate("() => performance.now()"))
        ctx.close()
    return out


def latency(page: Any, run: platform_server.Running, samples: int) -> list[float]:
    online = page.locator(".headline .fig", has_text="在线车辆").locator(".value")
    page.wait_for_function("el => el.textContent !== '—'", arg=online.element_handle())
    base = int(httpx.get(f"{run.url}/api/v1/scenes/fleet/summary", headers=_h(run, "read")).json()["online"])
    out = []
    for i in range(samples):
        want = f"{base + i + 1:,}"
        sent = time.time() * 1000
        ev = {
            "kind": "fleet.position",
            "key": f"LAT{i}",
            "ts": int(sent),
            "source": "bench",
            "lon": 115.9,
            "lat": 28.68,
            "speed": 1.0,
            "heading": 0.0,
            "soc": 50.0,
            "vtype": "nev",
        }
        httpx.post(
            f"{run.url}/api/v1/events", json=[ev], headers=_h(run, "ingest"), timeout=10
        ).raise_for_status()
        handle = page.wait_for_function(
            "([el, want]) => el.textContent === want ? Date.now() : false",
            arg=[online.element_handle(), want],
            timeout=10_000,
            polling=16,
        )
        out.append(float(handle.json_value()) - sent)
        time.sleep(1.3)
    return out


def _h(run: platform_server.Running, scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {run.tokens[scope]}"}


def heap_mb(cdp: Any) -> float:
    cdp.send("HeapProfiler.collectGarbage")
    used: float = cdp.send("Runtime.getHeapUsage")["usedSize"]
    return used / 1e6


def slope(samples: list[tuple[float, float]]) -> float:
    """Least-squares MB per minute."""
    xs, ys = [t / 60 for t, _ in samples], [m for _, m in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs) or 1.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vehicles", type=int, default=10_000)
    ap.add_argument("--render-rounds", type=int, default=5)
    ap.add_argument("--latency-samples", type=int, default=20)
    ap.add_argument("--frames-seconds", type=float, default=20)
    ap.add_argument("--memory-seconds", type=float, default=180)
    ap.add_argument("--memory-every", type=float, default=15)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    run = platform_server.start(
        Path(tempfile.mkdtemp(prefix="cb-bench-")) / "var", [scene_fixture.scene], installed={"pulse"}
    )
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            time.sleep(3)  # some live data first
            fr = first_render(browser, run, args.render_rounds)
            print(
                f"first full render (ms, {len(fr)} loads): "
                f"median {statistics.median(fr):.0f}  max {max(fr):.0f}"
            )

            ctx = browser.new_context(viewport={"width": 1920, "height": 1080})
            ctx.add_init_script(f"sessionStorage.setItem('citybrain.token', {run.tokens['read']!r})")
            page = ctx.new_page()
            page.goto(run.url + "/")
            page.wait_for_function(FULL_RENDER, timeout=30_000)
            lat = latency(page, run, args.latency_samples)
            print(
                f"event -> on-screen (ms, {len(lat)} events): "
                f"p50 {pct(lat, 50):.0f}  p95 {pct(lat, 95):.0f}  "
                f"max {max(lat):.0f}"
            )

            idle = page.evaluate(FRAMES, 5_000)
            print(f"frame time idle (ms): median {statistics.median(idle):.1f}  p95 {pct(idle, 95):.1f}")
            page.evaluate(FEED, [args.vehicles, "state.fleet.vehicles"])
            page.wait_for_function(
                f"() => window.citybrain.layers.get('fleet.vehicles').features.size >= {args.vehicles}"
            )
            page.wait_for_timeout(2_000)
            frames = page.evaluate(FRAMES, int(args.frames_seconds * 1000))
            stats = page.evaluate("() => ({...window.citybrain.mapStats, ...window.citybrain.liveStats})")
            print(
                f"frame time with {args.vehicles:,} moving vehicles (ms, {len(frames)} frames): "
                f"median {statistics.median(frames):.1f}  p95 {pct(frames, 95):.1f}  "
                f"fps {1000 / statistics.fmean(frames):.1f}  last setData {stats['lastFlushMs']:.1f} ms"
            )

            cdp = ctx.new_cdp_session(page)
            samples: list[tuple[float, float]] = []
            t0 = time.monotonic()
            while True:
                samples.append((time.monotonic() - t0, heap_mb(cdp)))
                if time.monotonic() - t0 >= args.memory_seconds:
                    break
                time.sleep(args.memory_every)
            half = samples[len(samples) // 2 :]
            print(
                f"page JS heap over {args.memory_seconds:.0f} s of live updates "
                f"({args.vehicles:,} vehicles + "
                f"simulators): start {samples[0][1]:.1f} MB  end {samples[-1][1]:.1f} MB  "
                f"max {max(m for _, m in samples):.1f} MB  trend {slope(samples):+.2f} MB/min "
                f"(second half {slope(half):+.2f} MB/min)"
            )
            browser.close()
    finally:
        run.stop()


if __name__ == "__main__":
    main()
